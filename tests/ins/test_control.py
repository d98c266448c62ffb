"""The INS control API (``/sandbox/v1/persons|cards|idams|ins-fixtures``, app/ins/control.py) over HTTP."""

from __future__ import annotations

import json

import pytest

from app.ins import national_base, nir, service
from app.ins.control import control_problem
from app.ins.exceptions import BeneficiaryUnknown, InsConflict, NirError, NotFound
from app.ins.soap.client import build_request, recvitale_xml
from app.ins.soap.namespaces import ACTION_VITALE
from app.shared.identifiers import OID_INS_NIR

PERSON = {
    "NomNaissance": "NOUVEAU", "ListePrenom": "JEAN PAUL", "Sexe": "M", "DateNaissance": "1990-01-01",
    "LieuNaissance": "75056",
    "INSACTIF": {"IdIndividu": {"NumIdentifiant": "1900175056123", "Cle": nir.compute_key("1900175056123")},
                 "OID": OID_INS_NIR},
}


async def test_control_api_persons(client, session) -> None:
    r = await client.post("/sandbox/v1/persons", json=PERSON)
    assert r.status_code == 201, r.text
    ins = "1900175056123" + nir.compute_key("1900175056123")
    assert (await client.post("/sandbox/v1/persons", json=PERSON)).status_code == 409
    found = await client.post("/insi/v1/search-traits", json={
        "NomNaissance": "NOUVEAU", "Prenom": "PAUL", "Sexe": "M", "DateNaissance": "1990-01-01"})
    assert found.json()["CR"]["CodeCR"] == "00"
    assert (await service.find_identity(session, ins=ins)).first_given_name == "JEAN"
    assert (await client.get(f"/sandbox/v1/persons/{ins}")).json()["ListePrenom"] == "JEAN PAUL"
    assert (await client.delete(f"/sandbox/v1/persons/{ins}")).status_code == 204
    assert (await client.get(f"/sandbox/v1/persons/{ins}")).status_code == 404
    listed = (await client.get("/sandbox/v1/persons", params={"limit": 500})).json()["persons"]
    assert any(p["NomNaissance"] == "HERMANN" for p in listed)


@pytest.mark.parametrize(("change", "rule"), [
    ({"INSACTIF": {"IdIndividu": {"NumIdentifiant": "1900175056123", "Cle": "00"}, "OID": OID_INS_NIR}},
     "NIR:key"),
    ({"INSACTIF": {"IdIndividu": {"NumIdentifiant": "1900175056123"}, "OID": "1.2.250.1.213.1.4.5"}}, "INS:oid"),
    ({"NomNaissance": "Nouveau"}, "INSi:charset"),
    ({"DateNaissance": "1990-02-30"}, "INSi:DateLunaire"),
    ({"ListePrenom": "JEAN " * 60}, "ListePrenom"),
    ({"NomNaissance": "A" * 101}, "NomNaissance"),
    ({"RangNaissance": "0"}, "RangNaissance"),
])
async def test_control_api_refuses_bad_persons(client, change: dict, rule: str) -> None:
    r = await client.post("/sandbox/v1/persons", json={**PERSON, **change})
    assert r.status_code == 422
    assert rule in r.json()["detail"]


async def test_control_api_cards(client) -> None:
    ins = "1900175056123" + nir.compute_key("1900175056123")
    card = {"NumeroSerie": "VITALE-NOUVEAU", "MatriculeOD": {"NumIdentifiant": "1900175056123"},
            "BENEFICIAIRES": [{"INS": ins, "DateNaissance": "1990-01-01"}]}
    r = await client.post("/sandbox/v1/cards", json=card)
    assert r.status_code == 422 and r.json()["rule"] == "INS:card-beneficiary"
    await client.post("/sandbox/v1/persons", json=PERSON)
    assert (await client.post("/sandbox/v1/cards", json=card)).status_code == 201
    assert (await client.post("/sandbox/v1/cards", json=card)).status_code == 409
    body = build_request(recvitale_xml("1900175056123", "1990-01-01", "1"), action=ACTION_VITALE)
    r = await client.post("/lps", content=body, headers={"Content-Type": "application/soap+xml",
                                                         "X-Client-Cert-CN": "INSI-MANU"})
    assert b"<CodeCR>00</CodeCR>" in r.content and b"NOUVEAU" in r.content


ADRUN_NUMBER, ADRUN_INS = "2751263220749", "275126322074974"  # a seeded person (ADRUN ZOE)


@pytest.mark.parametrize(("change", "field", "rule"), [
    ({"MatriculeOD": {"NumIdentifiant": ""}}, "MatriculeOD.NumIdentifiant", "[NIR:length]"),
    ({"MatriculeOD": {"NumIdentifiant": "27512632207XY"}}, "MatriculeOD.NumIdentifiant", "[NIR:format]"),
    ({"MatriculeOD": {"NumIdentifiant": ADRUN_NUMBER, "Cle": ""}}, "MatriculeOD.Cle", "[NIR:key-format]"),
    ({"MatriculeOD": {"NumIdentifiant": ADRUN_NUMBER, "Cle": "75"}}, "MatriculeOD", "[NIR:key]"),
    ({"BENEFICIAIRES": [{"INS": ADRUN_INS, "DateNaissance": "1975-12-31",
                         "MatriculeIndividu": {"NumIdentifiant": ADRUN_NUMBER, "Cle": ""}}]},
     "BENEFICIAIRES.0.MatriculeIndividu.Cle", "[NIR:key-format]"),
    ({"BENEFICIAIRES": [{"INS": ADRUN_INS, "DateNaissance": "1975-12-31",
                         "MatriculeIndividu": {"NumIdentifiant": "", "Cle": None}}]},
     "BENEFICIAIRES.0.MatriculeIndividu.NumIdentifiant", "[NIR:length]"),
])
async def test_control_api_refuses_bad_card_matricules(client, change: dict, field: str, rule: str) -> None:
    """The fuzzer's inputs (issue 10: an empty ``MatriculeOD``, an empty or null ``Cle`` in a beneficiary)
    on both routes that take cards: a 422 problem naming the field and the NIR rule, nothing stored."""
    card = {"NumeroSerie": "VITALE-FUZZ", "MatriculeOD": {"NumIdentifiant": ADRUN_NUMBER, "Cle": "74"},
            "BENEFICIAIRES": [{"INS": ADRUN_INS, "DateNaissance": "1975-12-31"}], **change}
    before = (await client.get("/sandbox/v1/cards")).json()
    for path, body in (("/sandbox/v1/cards", card), ("/sandbox/v1/ins-fixtures", {"cards": [card]})):
        r = await client.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert field in r.json()["detail"] and rule in r.json()["detail"], r.json()["detail"]
    assert (await client.get("/sandbox/v1/cards")).json() == before


async def test_control_api_card_without_keys(client) -> None:
    """``Cle`` absent or null is "not given" (as in ``IdIndividu``): the card is stored and found."""
    card = {"NumeroSerie": "VITALE-SANS-CLE", "MatriculeOD": {"NumIdentifiant": ADRUN_NUMBER, "Cle": None},
            "BENEFICIAIRES": [{"INS": ADRUN_INS, "DateNaissance": "1975-12-31",
                               "MatriculeIndividu": {"NumIdentifiant": ADRUN_NUMBER, "Cle": None}}]}
    assert (await client.post("/sandbox/v1/cards", json=card)).status_code == 201
    series = [c.get("NumeroSerie") for c in (await client.get("/sandbox/v1/cards")).json()["cards"]]
    assert "VITALE-SANS-CLE" in series


async def test_fixture_file_loading(client, session, tmp_path) -> None:
    data = {"persons": [PERSON], "idams": [{"IDAM": "FROMFILE"}]}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    added = await national_base.load_fixture_file(session, path)
    assert added == {"persons": 1, "cards": 0, "idams": 1}
    assert await national_base.load_fixture_file(session, path) == {"persons": 0, "cards": 0, "idams": 0}
    await session.rollback()
    r = await client.post("/sandbox/v1/ins-fixtures", json=data)
    assert r.json()["added"] == {"persons": 1, "cards": 0, "idams": 1}
    assert (await client.post("/sandbox/v1/ins-fixtures", json=data)).json()["added"]["persons"] == 0


async def test_reset_restores_the_fixtures(client) -> None:
    await client.post("/sandbox/v1/persons", json=PERSON)
    await client.delete("/sandbox/v1/persons/275126322074974")
    assert (await client.post("/sandbox/v1/reset")).status_code == 200
    assert (await client.get("/sandbox/v1/persons/275126322074974")).status_code == 200
    assert (await client.get("/sandbox/v1/persons/" + "1900175056123" + nir.compute_key("1900175056123"))
            ).status_code == 404


def test_control_problem_maps_each_domain_error() -> None:
    """control_problem, the control API's one mapper: 409 for a collision, 422 for an unknown beneficiary, 404."""
    conflict = control_problem(InsConflict("IDAM", "INS:idam-exists", "IDAM X already exists"))
    assert (conflict.status, conflict.title, conflict.rule, conflict.extra) == (
        409, "Conflict", "INS:idam-exists", {"field": "IDAM"})
    beneficiary = control_problem(BeneficiaryUnknown("BENEFICIAIRES.INS", "INS:card-beneficiary", "not a person"))
    assert (beneficiary.status, beneficiary.title) == (422, "Unprocessable")
    missing = control_problem(NotFound("unknown IDAM X", rule="INS:idam-unknown", field="idam"))
    assert (missing.status, missing.title, missing.detail, missing.extra) == (
        404, "Not Found", "unknown IDAM X", {"field": "idam"})
    other = control_problem(NirError("NIR:key", "wrong key"))  # not a collision: no longer a 409
    assert (other.status, other.title, other.rule, other.detail) == (400, "Bad Request", "NIR:key", "wrong key")
