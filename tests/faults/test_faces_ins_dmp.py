"""Faults seen by real clients of INSi (zeep on SOAP, httpx on the JSON facade) and of the DMP's FHIR face."""

from __future__ import annotations

import asyncio
import time

from zeep import Client
from zeep.exceptions import Fault
from zeep.wsa import WsAddressingPlugin

from tests.dmp.conftest import FONTAINE, ZOE
from tests.faults.helpers import add_rule, injected_entries
from tests.ins.soap.test_endpoint import AsgiTransport
from tests.psc.helpers import CONFIDENTIAL_CLIENT, access_token_for

ADRUN = {"NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"}
CERT = {"X-Client-Cert-CN": "INSI-AUTO"}
FIND = "/dmp/fhir/DocumentReference"
PATIENT = {"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}", "status": "current"}


def _zeep_searches(loop: asyncio.AbstractEventLoop, http, times: int, idam: str = "SEGURSANDBOX01",  # type: ignore[no-untyped-def]
                   nom: str = "ADRUN") -> list:
    """``times`` trait searches of ADRUN ZOE by zeep from the WSDL: each answer, or the Fault raised."""
    client = Client("http://sandbox.test/lps?wsdl", transport=AsgiTransport(loop, http),
                    plugins=[WsAddressingPlugin()])
    bam = client.get_element("{urn:siram:bam:ctxbam}ContexteBAM")(
        Version="01_02", Id="1f7425e2-b913-415c-adaa-785ee1076a70", Temps="2026-11-24T10:00:00Z", COUVERTURE={})
    lps = client.get_element("{urn:siram:lps:ctxlps}ContexteLPS")(
        Version="01_00", Nature="CTXLPS", Id="1f7425e2-b913-415c-adaa-785ee1076a70", Temps="2026-11-24T10:00:00Z",
        LPS={"IDAM": {"_value_1": idam, "R": "4"}, "Version": "1.0", "Nom": "urn:lps:zeep:1.0"})
    out: list = []
    for _ in range(times):
        try:
            out.append(client.service.rechercherInsAvecTraitsIdentite(
                NomNaissance=nom, Prenom=["ZOE"], Sexe="F", DateNaissance="1975-12-31", _soapheaders=[bam, lps]))
        except Fault as fault:
            out.append(fault)
    return out


async def test_insi_soap_unavailable_for_the_next_call(client) -> None:
    rule = await add_rule(client, target="ins.search_traits", kind="unavailable", count=1)
    first, second = await asyncio.to_thread(_zeep_searches, asyncio.get_running_loop(), client, 2)
    assert isinstance(first, Fault)
    assert first.code == "soap:Receiver" and first.subcodes[0].localname == "siram_40"
    assert first.detail[0].get("code") == "insi_102" and first.detail[0].get("severite") == "fatal"
    assert second.CR.CodeCR == "00"
    entries = await injected_entries(client, rule)
    assert len(entries) == 1
    assert entries[0]["status"] == 500 and entries[0]["outcome"] == "error"
    assert entries[0]["facts"]["injected"] is True and entries[0]["facts"]["fault_kind"] == "unavailable"
    assert entries[0]["actor"] == "ins:SEGURSANDBOX01"
    listed = (await client.get(f"/sandbox/v1/faults/{rule}")).json()
    # the rule is spent after its one call: the second call is not counted (nor looked up in the store)
    assert (listed["calls"], listed["injected"]) == (1, 1)


async def test_insi_soap_wrong_answer(client) -> None:
    await add_rule(client, target="ins.search_traits", kind="wrong_answer", answer="02", count=1)
    wrong, right = await asyncio.to_thread(_zeep_searches, asyncio.get_running_loop(), client, 2)
    assert wrong.CR.CodeCR == "02" and wrong.CR.LibelleCR == "Plusieurs identites trouvees" and wrong.INDIVIDU is None
    assert right.CR.CodeCR == "00"


async def test_insi_soap_real_refusal_is_not_an_injected_wrong_answer(client) -> None:
    # the traits are checked first: invalid ones get INSi's real fault, journaled with its real rule, and the
    # rule is not spent; the wrong answer then given is a 200 whose entry carries the injection facts, no refusal
    rule = await add_rule(client, target="ins.search_traits", kind="wrong_answer", answer="02", count=1)
    (refused,) = await asyncio.to_thread(_zeep_searches, asyncio.get_running_loop(), client, 1, nom="adrun%")
    assert isinstance(refused, Fault)
    entries = (await client.get("/sandbox/v1/journal", params={"operation": "ins_soap"})).json()["entries"]
    assert entries[0]["status"] == 500 and entries[0]["rule"] and not entries[0]["rule"].startswith("fault:")
    assert await injected_entries(client, rule) == []
    assert (await client.get(f"/sandbox/v1/faults/{rule}")).json()["calls"] == 0
    (wrong,) = await asyncio.to_thread(_zeep_searches, asyncio.get_running_loop(), client, 1)
    assert wrong.CR.CodeCR == "02"
    (entry,) = await injected_entries(client, rule)
    assert entry["status"] == 200 and entry["rule"] != f"fault:{rule}"
    assert entry["facts"]["injected"] is True and entry["facts"]["fault_kind"] == "wrong_answer"


async def test_insi_soap_rule_for_another_client_leaves_this_one_alone(client) -> None:
    await add_rule(client, target="ins.search_traits", kind="unavailable", client="ins:OTHERSOFTWARE")
    (answer,) = await asyncio.to_thread(_zeep_searches, asyncio.get_running_loop(), client, 1)
    assert answer.CR.CodeCR == "00"


async def test_insi_json_unavailable_and_wrong_answer(client) -> None:
    rule = await add_rule(client, target="ins.search_traits", kind="unavailable", count=1)
    down = await client.post("/insi/v1/search-traits", json=ADRUN, headers=CERT)
    assert down.status_code == 503 and down.headers["content-type"].startswith("application/problem+json")
    problem = down.json()
    assert problem["code"] == "insi_102" and problem["siram"] == "siram_40" and problem["rule"] == f"fault:{rule}"
    await add_rule(client, target="ins.search_traits", kind="wrong_answer", answer="01", count=1)
    none = await client.post("/insi/v1/search-traits", json=ADRUN, headers=CERT)
    assert none.status_code == 200 and none.json()["CR"]["CodeCR"] == "01"
    assert (await client.post("/insi/v1/search-traits", json=ADRUN, headers=CERT)).json()["CR"]["CodeCR"] == "00"


async def test_dmp_fhir_unavailable_is_a_503_operation_outcome(client, auth) -> None:
    rule = await add_rule(client, target="dmp.iti67", kind="unavailable", count=1)
    down = await client.get(FIND, params=PATIENT, headers=await auth())
    assert down.status_code == 503 and down.headers["content-type"].startswith("application/fhir+json")
    issue = down.json()["issue"][0]
    assert down.json()["resourceType"] == "OperationOutcome" and issue["code"] == "transient"
    assert {"system": "urn:segur-sandbox:rule", "code": f"fault:{rule}"} in issue["details"]["coding"]
    assert (await client.get(FIND, params=PATIENT, headers=await auth())).status_code == 200
    (entry,) = await injected_entries(client, rule)
    assert entry["operation"] == "dmp_find_documents" and entry["facts"]["injected"] is True


async def test_dmp_fhir_expired_and_revoked_tokens(client, auth) -> None:
    await add_rule(client, target="dmp.iti67", kind="expired_token", count=1)
    await add_rule(client, target="dmp.td02", kind="revoked_token", count=1)
    expired = await client.get(FIND, params=PATIENT, headers=await auth())
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert "expired" in expired.headers["www-authenticate"]
    revoked = await client.get("/dmp/fhir/Patient", params={"identifier": PATIENT["patient.identifier"]},
                               headers=await auth())
    assert revoked.status_code == 401 and "revoked" in revoked.headers["www-authenticate"]
    assert revoked.json()["resourceType"] == "OperationOutcome"


async def test_dmp_fhir_client_restriction_matches_the_tokens_client(client, auth) -> None:
    # the actor of a DMP FHIR call is the verified token's client, psc:<client_id> as the token endpoint names it
    rule = await add_rule(client, target="dmp.iti67", kind="unavailable", client=f"psc:{CONFIDENTIAL_CLIENT}")
    other = await client.get(FIND, params=PATIENT, headers=await auth())  # a token of the public client
    assert other.status_code == 200, other.text
    token = await access_token_for(client, FONTAINE, client_id=CONFIDENTIAL_CLIENT)
    hit = await client.get(FIND, params=PATIENT, headers={"Authorization": f"Bearer {token}",
                                                          "Accept": "application/fhir+json"})
    assert hit.status_code == 503, hit.text
    (entry,) = await injected_entries(client, rule)
    assert entry["actor"] == f"psc:{CONFIDENTIAL_CLIENT}" and entry["facts"]["injected"] is True
    assert (await client.get(f"/sandbox/v1/faults/{rule}")).json()["calls"] == 1


async def test_slow_delays_then_answers(client, auth) -> None:
    rule = await add_rule(client, target="dmp.iti67", kind="slow", delay_ms=300, count=1)
    started = time.perf_counter()
    answer = await client.get(FIND, params=PATIENT, headers=await auth())
    assert answer.status_code == 200 and time.perf_counter() - started >= 0.3
    (entry,) = await injected_entries(client, rule)
    assert entry["outcome"] == "ok" and entry["rule"] is None
    assert entry["facts"]["injected"] is True and entry["facts"]["fault_kind"] == "slow"


async def test_slow_does_not_block_the_loop(client, auth) -> None:
    await add_rule(client, target="dmp.iti67", kind="slow", delay_ms=500, count=1)
    started = time.perf_counter()
    slow = asyncio.create_task(client.get(FIND, params=PATIENT, headers=await auth()))
    await asyncio.sleep(0.05)
    other = await client.post("/insi/v1/search-traits", json=ADRUN, headers=CERT)
    assert other.status_code == 200 and time.perf_counter() - started < 0.45
    assert (await slow).status_code == 200


async def test_window_and_deletion(client, auth) -> None:
    past = await add_rule(client, target="dmp.iti67", kind="unavailable",
                          **{"from": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"})
    assert (await client.get(FIND, params=PATIENT, headers=await auth())).status_code == 200
    now = await add_rule(client, target="dmp.iti67", kind="unavailable",
                         **{"from": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"})
    assert (await client.get(FIND, params=PATIENT, headers=await auth())).status_code == 503
    assert (await client.get(FIND, params=PATIENT, headers=await auth())).status_code == 503
    assert (await client.delete(f"/sandbox/v1/faults/{now}")).status_code == 204
    assert (await client.get(FIND, params=PATIENT, headers=await auth())).status_code == 200
    assert (await client.get(f"/sandbox/v1/faults/{past}")).json()["calls"] == 0


async def test_seeded_probability_is_reproducible(client) -> None:
    async def run() -> list[int]:
        await client.post("/sandbox/v1/reset")
        await add_rule(client, target="ins.search_traits", kind="unavailable", probability=0.5, seed="ci-run-7")
        return [(await client.post("/insi/v1/search-traits", json=ADRUN, headers=CERT)).status_code
                for _ in range(12)]

    first, second = await run(), await run()
    assert first == second
    assert 503 in first and 200 in first
    from app.faults.rules import draw

    assert first == [503 if draw("ci-run-7", k) < 0.5 else 200 for k in range(1, 13)]


async def test_dmp_soap_unavailable_and_expired_token(client) -> None:
    from app.dmp.soap import namespaces as ns
    from app.dmp.soap.faults import NS_SANDBOX_FAULT
    from tests.dmp.soap.client import post_soap
    from tests.dmp.soap.test_iti18 import find_documents, vihf_for

    down = await add_rule(client, target="dmp.iti18", kind="unavailable", count=1)
    await add_rule(client, target="dmp.iti18", kind="expired_token", count=1)
    assertion, headers = await vihf_for(client)

    async def call():  # type: ignore[no-untyped-def]
        return await post_soap(client, "registry", ns.ACTION_ITI18, find_documents(), vihf=assertion,
                               headers=headers)

    first = await call()
    assert first.status == 500 and first.is_fault and first.fault_code.endswith("Receiver")
    assert first.fault_subcode == f"{{{NS_SANDBOX_FAULT}}}ServiceUnavailable"
    assert "temporairement indisponible" in first.fault_reason
    second = await call()  # the first rule is spent: the second one answers
    assert second.status == 500 and second.fault_code.endswith("Sender")
    assert second.fault_subcode == f"{{{ns.NS_WSSE}}}FailedAuthentication" and "expiré" in second.fault_reason
    third = await call()
    assert third.status == 200 and not third.is_fault
    (entry,) = await injected_entries(client, down)
    assert entry["facts"]["injected"] is True and entry["actor"] and entry["actor"].startswith("dmp:")
