"""The identities other domains read (app/ins/identities.py, through app.ins.service)."""

from __future__ import annotations

from app.ins import service
from app.shared.identifiers import OID_INS_NIA, OID_INS_NIR, OID_INS_NIR_TEST


async def test_seeded_identities_are_listed_and_found(client, session):
    identities = await service.list_identities(session)
    by_ins = {i.ins: i for i in identities}
    adrun = by_ins["275126322074974"]
    assert (adrun.birth_name, adrun.first_given_name, adrun.sex, adrun.birth_date, adrun.birth_place) == (
        "ADRUN", "ZOE", "F", "1975-12-31", "63220")
    assert adrun.oid == OID_INS_NIR
    assert len(identities) >= 70
    assert not any(i.birth_name == "D'AEION" for i in identities)  # a fault, not an identity

    found = await service.find_identity(session, ins="275126322074974")
    assert found == adrun
    nia = await service.find_identity(session, ins="109076322088835")
    assert nia is not None and nia.kind == "NIA" and nia.oid == OID_INS_NIA
    assert await service.find_identity(session, ins="109076322088835", oid=OID_INS_NIR) is None
    test_oid = await service.find_identity(session, ins="275126322074974", oid=OID_INS_NIR_TEST)
    assert test_oid is not None and test_oid.oid == OID_INS_NIR_TEST
    assert await service.find_identity(session, ins="275126322074974", oid="1.2.250.1.213.1.4.5") is None
    assert await service.find_identity(session, ins="999999999999999") is None
    # a former matricule (INSHISTO) is not an active identity unless asked
    assert await service.find_identity(session, ins="209076322083439") is None
    old = await service.find_identity(session, ins="209076322083439", include_history=True)
    assert old is not None and not old.active and old.birth_name == "ECETINSI"


async def test_known_ins_agrees_with_find_identity(client, session, monkeypatch):
    identities = await service.list_identities(session)
    candidates = {i.ins for i in identities}
    candidates |= {
        "2 75 12 63 220 749 74",  # spaces, as people type them
        "1.09.07.63.220.888.35",
        "209076322083439",  # a former matricule (INSHISTO): not an active identity
        "999999999999999", "27512632207497", "", "2751263220749744",
        "275126322074975",  # ADRUN ZOE's number with another key
    }
    candidates |= {i.ins.lower() for i in identities if "A" in i.ins or "B" in i.ins}  # Corsica 2a / 2b
    expected = {c for c in candidates if await service.find_identity(session, ins=c) is not None}
    assert len(expected) >= len(identities)
    monkeypatch.setattr("app.ins.identities.KNOWN_INS_CHUNK", 7)  # several chunks
    assert await service.known_ins(session, candidates) == expected
    assert await service.known_ins(session, []) == set()
