"""The feeding path's store access (app/dmp/standing.py, app/dmp/feedstore.py): one query for the INS
identity, the DMP and the caller's standing, one statement for the inserts on PostgreSQL (data-modifying
CTEs, cached per shape).

The one query (fast path) and the plain path (``find_identity``, then the DMP and the caller's standing)
must both answer what the INS service's ``find_identity`` followed by ``authorise`` answer, in the same
order, for every patient / OID / professional / DMP state; the one insert must store what the per-table
inserts stored, whatever the number of documents and chunks, one shape after another."""

from __future__ import annotations

from sqlalchemy import delete

from app.api.errors import FhirError
from app.dmp import exceptions, rules, service, submission
from app.dmp.context import AccessContext
from app.dmp.fhir.errors import to_fhir
from app.dmp.models import DmpRecord
from app.shared.professional import Professional

INS_OIDS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11")


def _ctx(subject: str, rpps: str | None) -> AccessContext:
    return AccessContext(professional=Professional(
        subject_name_id=subject, rpps=rpps, given_name="Test", family_name="Pro", profession_code="10", userinfo={}))


async def _reference(session, patient: submission.PatientId, ctx: AccessContext) -> int:  # type: ignore[no-untyped-def]
    """The sequence the feeding path used before: INS service look-up, then authorise, then INS check."""
    from app.ins import service as ins_service

    known = await ins_service.find_identity(session, ins=patient.ins, oid=f"urn:oid:{patient.oid}") is not None
    record, _, _ = await service.authorise(session, ins=patient.ins, ctx=ctx, action=rules.Action.FEED,
                                           transaction="ITI-65", known_to_ins=known)
    if not known:
        raise FhirError(404, "not-found", f"INS {patient.ins} is unknown to the INS service: only an INS returned "
                        "by INSi may be used for the DMP (EX_GEN-1530)",
                        french=f"L'INS {patient.ins} est inconnu du service INS : seul un INS renvoyé par l'INSi peut "
                               "servir pour le DMP (EX_GEN-1530)",
                        rule="INS:unknown", details_code=exceptions.XDS_UNKNOWN_PATIENT)
    return record.id


async def _answer(coro):  # type: ignore[no-untyped-def]
    try:
        return ("ok", await coro)
    except (FhirError, exceptions.DmpError) as error:
        exc = to_fhir(error) if isinstance(error, exceptions.DmpError) else error
        return (exc.status, exc.code, exc.rule, exc.diagnostics, exc.french, exc.details_code)


async def test_one_query_answers_as_find_identity_then_authorise(app, client, session):  # type: ignore[no-untyped-def]
    from app.ins import service as ins_service

    identities = await ins_service.list_identities(session)
    assert any(i.kind == "NIA" for i in identities) and any(i.kind == "NIR" for i in identities)
    victims = [i.ins for i in identities[:3]]
    await client.post(f"/sandbox/v1/dmps/{victims[0]}/close", json={"motifFermeture": "patient-demande"})
    await client.put(f"/sandbox/v1/dmps/{victims[1]}/blocked-professionals/10001000024")
    await client.put(f"/sandbox/v1/dmps/{victims[1]}/authorisations/10001000032", json={"status": "INTERDIT"})
    # a known INS without a DMP (the store is reset before each test)
    async with app.state.sessionmaker() as own, own.begin():
        await own.execute(delete(DmpRecord).where(DmpRecord.ins == victims[2]))
    contexts = [_ctx("810001000016", "10001000016"), _ctx("810001000024", "10001000024"),
                _ctx("810001000032", "10001000032"), _ctx("899999999999", None)]
    inses = [i.ins for i in identities] + ["199999999999999", "1999999999999AB"]
    seen = set()
    for ins in inses:
        for oid in INS_OIDS:
            for ctx in contexts:
                patient = submission.PatientId(oid=oid, ins=ins)
                expected = await _answer(_reference(session, patient, ctx))
                for fast in (True, False):
                    got = await _answer(service.feed_standing(session, patient=patient, ctx=ctx,
                                                              transaction="ITI-65", fast=fast))
                    if got[0] == "ok":
                        got = ("ok", got[1].id)
                    assert got == expected, (ins, oid, ctx.rpps, fast)
                seen.add(got[0] if got[0] == "ok" else got[2])
    assert seen == {"ok", "INS:unknown", "DMP:exists", "DMP:closed", "DMP:blocked"}
