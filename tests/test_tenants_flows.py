"""Two pipelines at once, each in its own tenant (issue 15): the key flows of every service run concurrently in
tenants A and B, seeded with the same fixtures — PSC discovery, code flow and userinfo; INSi over JSON; DMP
ITI-65 (the very same Bundle: same masterIdentifier, same entry ids), ITI-67 and ITI-68; MSSanté over SMTP and
IMAP with ``<tenant>/<login>``; the journal — and their transcripts are compared: once the tenant's name is
taken out they must be identical, and neither pipeline may see what the other did (an ITI-67 count, an inbox
that held the other's message, a journal entry of the other would make them differ or fail). Then the rows
each tenant holds, table by table, must be the same, and the default tenant's must not have moved.

The domains' own tests (tests/*/test_tenants.py) go deeper into each service; this one runs them side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import json
import smtplib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import BASE_URL
from tests.dmp.builders import docref, provide_bundle
from tests.dmp.conftest import FONTAINE, ZOE
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message
from tests.mss.imap.server_helpers import tls_context
from tests.psc.helpers import REALM, access_token_for
from tests.tenants import row_counts  # its `make_tenant` fixture is a plugin (tests/conftest.py)

FHIR = "application/fhir+json"
PATIENT = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
USERINFO = f"{REALM}/protocol/openid-connect/userinfo"
CURRENT = {"patient.identifier": PATIENT, "status": "current"}
TRAITS = {"NomNaissance": "ECETINSI", "Prenom": "PIERRE-ALAIN", "Sexe": "M", "DateNaissance": "2009-07-14"}

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@contextlib.asynccontextmanager
async def http_in(app: Any, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"{BASE_URL}/t/{tenant}") as http:
        yield http


def mail_flow(app: Any, tenant: str, subject: str) -> list[Any]:
    """smtplib sends as ``<tenant>/<doctor>`` and imaplib reads ``<tenant>/<hospital doctor>``'s inbox (blocking)."""
    with smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20) as smtp:
        smtp.ehlo("lps.test")
        smtp.starttls(context=tls_context(app))
        smtp.ehlo("lps.test")
        code = smtp.login(f"{tenant}/{DOCTOR}", PASSWORD)[0]
        refused = smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], build_message(
            sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, subject=subject))
    imap = imaplib.IMAP4("127.0.0.1", app.state.imap_port, timeout=20)
    try:
        imap.starttls(ssl_context=tls_context(app))
        imap.login(f"{tenant}/{HOSPITAL_DOCTOR}", PASSWORD)
        status, data = imap.select("INBOX", readonly=True)
        assert status == "OK"
        status, found = imap.search(None, "SUBJECT", f'"{subject}"')
        exists = int(data[0])
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
    return [code, refused, exists, len(found[0].split())]


async def pipeline(app: Any, tenant: str, bundle: dict[str, Any], subject: str) -> dict[str, Any]:
    """One CI pipeline's key flows in ``tenant``; the transcript, with the tenant's name taken out."""
    transcript: dict[str, Any] = {}
    async with http_in(app, tenant) as http:
        discovery = (await http.get(f"{REALM}/.well-known/openid-configuration")).json()
        transcript["issuer"] = discovery["issuer"]
        token = await access_token_for(http, FONTAINE)
        auth = {"Authorization": f"Bearer {token}", "Accept": FHIR}
        userinfo = await http.get(USERINFO, headers={"Authorization": f"Bearer {token}"})
        transcript["userinfo"] = (userinfo.status_code, userinfo.json().get("SubjectNameID"))
        await asyncio.sleep(0)  # let the other pipeline in between every step
        insi = await http.post("/insi/v1/search-traits", json=TRAITS)
        transcript["insi"] = (insi.status_code, insi.json()["CR"]["CodeCR"],
                              insi.json()["INDIVIDU"]["INSACTIF"]["IdIndividu"]["NumIdentifiant"])
        before = await http.get("/dmp/fhir/DocumentReference", headers=auth, params=CURRENT)
        filed = await http.post("/dmp/fhir", content=json.dumps(bundle), headers={**auth, "Content-Type": FHIR})
        transcript["iti65"] = filed.status_code
        again = await http.post("/dmp/fhir", content=json.dumps(bundle), headers={**auth, "Content-Type": FHIR})
        transcript["iti65_again"] = again.status_code  # a duplicate within the tenant: refused in both
        after = await http.get("/dmp/fhir/DocumentReference", headers=auth, params=CURRENT)
        assert after.status_code == 200 and "entry" in after.json(), (filed.text[:500], after.text[:500])
        transcript["iti67"] = (len(before.json().get("entry") or []), len(after.json().get("entry") or []))
        new = [e for e in after.json()["entry"]
               if e["resource"]["masterIdentifier"]["value"] == docref(bundle)["masterIdentifier"]["value"]]
        assert len(new) == 1, new
        transcript["fullUrl"] = new[0]["fullUrl"].rsplit("/", 1)[0]
        url = new[0]["resource"]["content"][0]["attachment"]["url"]
        transcript["attachment"] = url.rsplit("/", 1)[0]
        content = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        transcript["iti68"] = (content.status_code, len(content.content))
        transcript["mail"] = await asyncio.to_thread(mail_flow, app, tenant, subject)
        await asyncio.sleep(0.3)  # the SMTP session's journal entry is written when the server sees it closed
        journal = (await http.get("/sandbox/v1/journal", params={"limit": 1000})).json()["entries"]
        transcript["journal"] = sorted({(e["service"], e["operation"], e["status"]) for e in journal
                                        if e["operation"] != "sandbox_journal"}, key=str)
        transcript["token"] = token
    return json.loads(json.dumps(transcript).replace(tenant, "{tenant}"))


async def test_two_pipelines_at_once_in_two_tenants_see_the_same_world_and_only_their_own(
        app, client, make_tenant) -> None:  # type: ignore[no-untyped-def]
    default_before = await row_counts(app.state.sessionmaker, "default")
    default_before.pop("sandbox_journal_entry")  # the control API's own calls are journaled in the default tenant
    a, b = await make_tenant("flow-a"), await make_tenant("flow-b")
    bundle = provide_bundle(ZOE)  # the very same Bundle, ids and uniqueId, in both tenants
    subject = f"pipeline {uuid.uuid4().hex[:8]}"

    seen_a, seen_b = await asyncio.gather(pipeline(app, a, bundle, subject), pipeline(app, b, bundle, subject))
    token_a, token_b = seen_a.pop("token"), seen_b.pop("token")
    assert seen_a == seen_b
    assert seen_a["issuer"] == f"{BASE_URL}/t/{{tenant}}{REALM}"
    assert seen_a["iti65"] == 200 and seen_a["iti65_again"] == 409
    before, after = seen_a["iti67"]
    assert after == before + 1  # its own document, not the other pipeline's as well
    assert seen_a["fullUrl"].startswith(f"{BASE_URL}/t/{{tenant}}/dmp/fhir")
    assert seen_a["mail"][:2] == [235, {}] and seen_a["mail"][3] == 1  # one message with that subject: its own
    assert ("mss", "mss.smtp.data", 250) in [tuple(e) for e in seen_a["journal"]]

    # each tenant's token is the other's stranger
    async with http_in(app, b) as http:
        crossed = await http.get(USERINFO, headers={"Authorization": f"Bearer {token_a}"})
        assert crossed.status_code == 401
        crossed = await http.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT},
                                 headers={"Authorization": f"Bearer {token_a}", "Accept": FHIR})
        assert crossed.status_code == 401
    async with http_in(app, a) as http:
        crossed = await http.get(USERINFO, headers={"Authorization": f"Bearer {token_b}"})
        assert crossed.status_code == 401

    counts_a = await row_counts(app.state.sessionmaker, a)
    counts_b = await row_counts(app.state.sessionmaker, b)
    journal_a, journal_b = counts_a.pop("sandbox_journal_entry"), counts_b.pop("sandbox_journal_entry")
    assert counts_a == counts_b
    assert journal_a > 0 and journal_b > 0
    default_after = await row_counts(app.state.sessionmaker, "default")
    default_after.pop("sandbox_journal_entry")
    assert default_after == default_before
