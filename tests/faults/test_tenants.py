"""Fault rules per tenant: a rule created at ``/t/{x}/sandbox/v1/faults`` belongs to x and fires only there, seen
by real clients (zeep on INSi SOAP, httpx on the DMP's FHIR face) run in two tenants interleaved."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from zeep import Client
from zeep.exceptions import Fault
from zeep.wsa import WsAddressingPlugin

from app.faults.models import FaultRuleRow
from app.tenancy import tenant_path, use_tenant
from tests.ins.soap.test_endpoint import AsgiTransport
from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET
from tests.tenants import make_tenant

__all__ = ["make_tenant"]

BINDING = "{http://www.cnamts.fr/webservice}ICIRServiceBinding"


def _zeep_search(loop: asyncio.AbstractEventLoop, http: httpx.AsyncClient, tenant: str | None):  # type: ignore[no-untyped-def]
    """One trait search of ADRUN ZOE by zeep in ``tenant`` (its /t/{tenant}/lps; the default tenant's /lps for
    None): the answer, or the Fault. The address is given, not read from the WSDL: this tests the faults, not the
    WSDL's address (the INS tests do)."""
    client = Client("http://sandbox.test/lps?wsdl", transport=AsgiTransport(loop, http),
                    plugins=[WsAddressingPlugin()])
    service = client.create_service(BINDING, "http://sandbox.test" + tenant_path("/lps", tenant or "default"))
    bam = client.get_element("{urn:siram:bam:ctxbam}ContexteBAM")(
        Version="01_02", Id="1f7425e2-b913-415c-adaa-785ee1076a70", Temps="2026-11-24T10:00:00Z", COUVERTURE={})
    lps = client.get_element("{urn:siram:lps:ctxlps}ContexteLPS")(
        Version="01_00", Nature="CTXLPS", Id="1f7425e2-b913-415c-adaa-785ee1076a70", Temps="2026-11-24T10:00:00Z",
        LPS={"IDAM": {"_value_1": "SEGURSANDBOX01", "R": "4"}, "Version": "1.0", "Nom": "urn:lps:zeep:1.0"})
    try:
        return service.rechercherInsAvecTraitsIdentite(
            NomNaissance="ADRUN", Prenom=["ZOE"], Sexe="F", DateNaissance="1975-12-31", _soapheaders=[bam, lps])
    except Fault as fault:
        return fault


async def _search(http: httpx.AsyncClient, tenant: str | None):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(_zeep_search, asyncio.get_running_loop(), http, tenant)


def _unavailable(answer) -> bool:  # type: ignore[no-untyped-def]
    return isinstance(answer, Fault) and answer.detail[0].get("code") == "insi_102"


async def test_a_rule_fires_only_in_its_tenant_interleaved(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant("fa"), await make_tenant("fb")
    created = await client.post(f"/t/{a}/sandbox/v1/faults",
                                json={"target": "ins.search_traits", "kind": "unavailable", "count": 2})
    assert created.status_code == 201
    rule = created.json()["id"]
    # interleaved: a, b, a, b, a — a's first two calls fail, b's never, then a recovers
    answers = []
    for tenant in (a, b, a, b, a):
        answers.append((tenant, await _search(client, tenant)))
    assert [_unavailable(answer) for _, answer in answers] == [True, False, True, False, False]
    assert all(answer.CR.CodeCR == "00" for _, answer in answers if not _unavailable(answer))
    assert _unavailable(answers[0][1]) and answers[0][1].code == "soap:Receiver"
    # the rule is a's: listed, counted and journaled there only
    listed = (await client.get(f"/t/{a}/sandbox/v1/faults/{rule}")).json()
    assert (listed["calls"], listed["injected"]) == (2, 2)
    assert (await client.get(f"/t/{b}/sandbox/v1/faults")).json() == []
    assert (await client.get("/sandbox/v1/faults")).json() == []
    injected_a = (await client.get(f"/t/{a}/sandbox/v1/journal", params={"rule": f"fault:{rule}"})).json()
    injected_b = (await client.get(f"/t/{b}/sandbox/v1/journal", params={"rule": "fault:*"})).json()
    assert injected_a["total"] == 2 and injected_b["total"] == 0
    assert (await client.get("/sandbox/v1/journal", params={"rule": "fault:*"})).json()["total"] == 0


async def test_the_same_target_in_two_tenants_and_the_default(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant("fc"), await make_tenant("fd")
    # b: wrong answer 02; the default: unavailable; a: none
    assert (await client.post(f"/t/{b}/sandbox/v1/faults", json={
        "target": "ins.search_traits", "kind": "wrong_answer", "answer": "02"})).status_code == 201
    assert (await client.post("/sandbox/v1/faults", json={
        "target": "ins.search_traits", "kind": "unavailable"})).status_code == 201
    for _ in range(2):
        in_a, in_b = await _search(client, a), await _search(client, b)
        assert in_a.CR.CodeCR == "00"
        assert in_b.CR.CodeCR == "02"
    assert _unavailable(await _search(client, None))


async def test_another_tenants_rule_is_not_found_nor_deleted(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant("fe"), await make_tenant("ff")
    rule = (await client.post(f"/t/{a}/sandbox/v1/faults",
                              json={"target": "psc.token", "kind": "unavailable"})).json()["id"]
    for path in (f"/t/{b}/sandbox/v1/faults/{rule}", f"/sandbox/v1/faults/{rule}"):
        assert (await client.get(path)).status_code == 404
        refused = await client.delete(path)
        assert refused.status_code == 404 and refused.json()["rule"] == "faults:unknown"
    assert (await client.delete(f"/t/{b}/sandbox/v1/faults")).json() == {"deleted": 0}
    assert (await client.delete("/sandbox/v1/faults")).json() == {"deleted": 0}
    assert [r["id"] for r in (await client.get(f"/t/{a}/sandbox/v1/faults")).json()] == [rule]
    # b's token endpoint answers (a's rule does not fire there); a's is unavailable in OAuth's shape
    in_b = await client.post(f"/t/{b}/auth/realms/esante-wallet/protocol/openid-connect/token",
                             data={"grant_type": "client_credentials"}, auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    in_a = await client.post(f"/t/{a}/auth/realms/esante-wallet/protocol/openid-connect/token",
                             data={"grant_type": "client_credentials"}, auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert in_b.status_code != 503
    assert in_a.status_code == 503 and in_a.json()["error"] == "temporarily_unavailable"


async def test_deleting_or_resetting_a_tenant_forgets_its_rules(client: httpx.AsyncClient, make_tenant, app) -> None:  # type: ignore[no-untyped-def]
    a = await make_tenant("fg")
    token = f"/t/{a}/auth/realms/esante-wallet/protocol/openid-connect/token"
    form, auth = {"grant_type": "client_credentials"}, (CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET)
    assert (await client.post(f"/t/{a}/sandbox/v1/faults",
                              json={"target": "psc.token", "kind": "unavailable"})).status_code == 201
    assert (await client.post(token, data=form, auth=auth)).status_code == 503
    assert (await client.post(f"/t/{a}/sandbox/v1/reset")).status_code == 200
    assert (await client.post(token, data=form, auth=auth)).status_code != 503
    assert (await client.post(f"/t/{a}/sandbox/v1/faults",
                              json={"target": "psc.token", "kind": "unavailable"})).status_code == 201
    assert (await client.delete(f"/sandbox/v1/tenants/{a}")).status_code == 200
    with use_tenant(a):
        async with app.state.sessionmaker() as session:
            assert (await session.scalars(select(FaultRuleRow))).all() == []
