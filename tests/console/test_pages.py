"""The console over HTTP (app/console): every page answers, forms change the store through the services the
control API uses, domain refusals are pages naming their rule, and the journal links each entry."""

from __future__ import annotations

import re

import httpx

from tests.console.helpers import HOSPITAL_DOCTOR, csrf, send_mail, start_ciba
from tests.mss.helpers import build_message, sample_xdm


def _html(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    return response.text


async def test_overview_names_what_runs_the_urls_professionals_and_patients(client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    html = _html(await client.get("/"))
    assert '<html lang="fr">' in html
    assert f"127.0.0.1:{app.state.smtp_port}" in html and f":{app.state.imap_port}" in html
    assert "/auth/realms/esante-wallet/.well-known/openid-configuration" in html
    assert "/lps" in html and "/dmp/fhir" in html and "/si-dmp-server/v2/services/registry" in html
    assert "/mail/config-v1.1.xml" in html and "/mss/v1" in html
    assert "810001000016" in html and "claire.fontaine@medecin.mssante.fr" in html  # SubjectNameID, mailbox
    assert "ADRUN" in html and "1975-12-31" in html
    settings_url = app.state.settings.database_url
    assert ("postgresql" in html) == settings_url.startswith("postgresql")
    assert 'data-copy="' in html and "hidden>Copier" in html  # copy buttons, shown by the script only


async def test_every_section_renders(client: httpx.AsyncClient) -> None:
    for path in ("/console/psc", "/console/ins", "/console/dmp", "/console/mss", "/console/journal",
                 "/console/reports", "/console/ins?offset=100"):
        _html(await client.get(path))


async def test_console_pages_are_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/console")]


async def test_unknown_routes_outside_the_console_still_answer_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404 and response.headers["content-type"].startswith("application/problem+json")
    inside = await client.get("/console/nowhere")
    assert inside.status_code == 404 and inside.headers["content-type"].startswith("text/html")
    assert "platform:route" in inside.text
    assert (await client.get("/docs")).status_code == 200


async def test_create_a_psc_client_from_the_form(client: httpx.AsyncClient) -> None:
    token = await csrf(client)
    response = await client.post("/console/psc/clients", data={
        "csrf": token, "client_id": "console-made", "client_name": "Fait à la console",
        "grant_types": ["authorization_code", "client_credentials"], "token_endpoint_auth_method": "client_secret_post",
        "redirect_uris": "http://localhost:9999/cb\n",
    })
    assert response.status_code == 201, response.text
    assert "console-made" in response.text and "Secret" in response.text
    made = (await client.get("/sandbox/v1/clients/console-made")).json()  # the control API sees it
    assert made["grant_types"] == ["authorization_code", "client_credentials"]
    assert made["redirect_uris"] == ["http://localhost:9999/cb"]
    assert made["token_endpoint_auth_method"] == "client_secret_post"
    again = await client.post("/console/psc/clients", data={"csrf": token, "client_id": "console-made"})
    assert again.status_code == 400 and "PSC:client.exists" in again.text  # the service's refusal, as a page
    bad = await client.post("/console/psc/clients", data={"csrf": token, "client_id": "a b"})
    assert bad.status_code == 422 and "client_id" in bad.text
    journal = (await client.get("/sandbox/v1/journal", params={"path": "/console/psc/clients"})).json()
    assert [e["status"] for e in journal["entries"]] == [422, 400, 201]  # journaled by the middleware


async def test_approve_and_deny_ciba_requests(client: httpx.AsyncClient) -> None:
    approved, denied = await start_ciba(client, "11"), await start_ciba(client, "22")
    page = await client.get("/console/psc")
    assert approved in page.text and denied in page.text
    token = await csrf(client)
    first = await client.post(f"/console/psc/ciba/{approved}", data={"csrf": token, "action": "approve"})
    assert first.status_code == 303
    await client.post(f"/console/psc/ciba/{denied}", data={"csrf": token, "action": "deny"})
    statuses = {r["auth_req_id"]: r["status"] for r in (await client.get("/sandbox/v1/ciba")).json()}
    assert statuses == {approved: "approved", denied: "denied"}
    twice = await client.post(f"/console/psc/ciba/{approved}", data={"csrf": token, "action": "approve"})
    assert twice.status_code == 409 and "PSC:ciba.decided" in twice.text
    unknown = await client.post("/console/psc/ciba/nope", data={"csrf": token, "action": "approve"})
    assert unknown.status_code == 404 and "PSC:ciba.unknown" in unknown.text
    neither = await client.post("/console/psc/ciba/nope", data={"csrf": token, "action": "maybe"})
    assert neither.status_code == 400


async def test_ins_trial_search(client: httpx.AsyncClient) -> None:
    token = await csrf(client, "/console/ins")
    found = await client.post("/console/ins/search", data={
        "csrf": token, "NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"})
    assert found.status_code == 200 and "CodeCR 00" in found.text
    facade = await client.post("/insi/v1/search-traits", headers={"X-Client-Cert-CN": "INSI-AUTO"}, json={
        "NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"})
    ins = facade.json()["INDIVIDU"]["INSACTIF"]["IdIndividu"]
    assert ins["NumIdentifiant"] + ins["Cle"] in found.text  # the same answer as the JSON facade's
    missing = await client.post("/console/ins/search", data={
        "csrf": token, "NomNaissance": "PERSONNE", "Prenom": "NUL", "Sexe": "M", "DateNaissance": "1990-01-01"})
    assert "CodeCR 01" in missing.text
    refused = await client.post("/console/ins/search", data={
        "csrf": token, "NomNaissance": "adrün", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"})
    assert refused.status_code == 400 and "NomNaissance" in refused.text


async def test_dmp_record_and_document_pages(client: httpx.AsyncClient) -> None:
    listing = _html(await client.get("/console/dmp"))
    ins = re.search(r'href="/console/dmp/([0-9A-Z]{15})"', listing).group(1)  # type: ignore[union-attr]
    record = _html(await client.get(f"/console/dmp/{ins}"))
    assert "Traces d'accès" in record and "Autorisations" in record
    doc_id = re.search(r'href="/console/dmp/documents/([^"/]+)"', record).group(1)  # type: ignore[union-attr]
    document = _html(await client.get(f"/console/dmp/documents/{doc_id}"))
    assert "ClinicalDocument" in document and "&lt;" in document  # the XML shown escaped
    assert '<article class="cda" lang="fr">' in document  # and rendered by the DMP's CDA renderer
    assert f"/console/dmp/documents/{doc_id}/body" in document
    body = await client.get(f"/console/dmp/documents/{doc_id}/body")
    assert body.status_code == 200 and body.headers["content-type"] == "application/pdf"
    assert body.content.startswith(b"%PDF") and body.headers["x-frame-options"] == "SAMEORIGIN"
    content = await client.get(f"/console/dmp/documents/{doc_id}/content")
    assert content.status_code == 200 and content.content.startswith(b"<?xml")
    assert (await client.get("/console/dmp/documents/unknown")).status_code == 404
    unknown = await client.get("/console/dmp/123456789012345")
    assert unknown.status_code == 404 and "DMP:exists" in unknown.text


async def test_mss_mailbox_and_message_pages(client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    raw = build_message(sender="Dr Claire FONTAINE <claire.fontaine@medecin.mssante.fr>", to=HOSPITAL_DOCTOR,
                        xdm_bytes=sample_xdm(), pdf=True)
    await send_mail(app, raw)
    mailbox = _html(await client.get(f"/console/mss/{HOSPITAL_DOCTOR}"))
    uid = re.search(r'href="/console/mss/[^"/]+/([0-9a-f]{32})"', mailbox).group(1)  # type: ignore[union-attr]
    message = _html(await client.get(f"/console/mss/{HOSPITAL_DOCTOR}/{uid}"))
    for text in ("X-MSS-NIL", "Rapport de contrôle MSSanté", "IHE_XDM.ZIP décodé", "CR.pdf", "Veuillez trouver"):
        assert text in message, text
    index = re.search(r'/parts/(\d+)" download>[^<]*</a></td></tr>\s*</tbody>', message).group(1)  # type: ignore[union-attr]
    part = await client.get(f"/console/mss/{HOSPITAL_DOCTOR}/{uid}/parts/{index}")
    assert part.status_code == 200 and part.content.startswith(b"%PDF")
    assert part.headers["content-type"] == "application/octet-stream"  # never rendered on the console's origin
    assert 'filename="CR.pdf"' in part.headers["content-disposition"]
    raw_back = await client.get(f"/console/mss/{HOSPITAL_DOCTOR}/{uid}/raw")
    assert raw_back.status_code == 200 and b"X-MSS-NIL" in raw_back.content
    after = int(re.search(r'data-after="(\d+)"', mailbox).group(1))  # type: ignore[union-attr]
    assert "/console/live/mss/" in mailbox
    nothing_new = await client.get(f"/console/live/mss/{HOSPITAL_DOCTOR}", params={"after": after})
    assert nothing_new.status_code == 200 and nothing_new.text.strip() == ""
    await send_mail(app, build_message(to=HOSPITAL_DOCTOR, subject="Second",
                                       sender="Dr Claire FONTAINE <claire.fontaine@medecin.mssante.fr>"))
    fresh = await client.get(f"/console/live/mss/{HOSPITAL_DOCTOR}", params={"after": after})
    assert "Second" in fresh.text and uid not in fresh.text and int(fresh.headers["x-last-id"]) > after
    assert (await client.get("/console/mss/nobody@nowhere.fr")).status_code == 404
    assert (await client.get(f"/console/mss/{HOSPITAL_DOCTOR}/{'0' * 32}")).status_code == 404


async def test_journal_filters_links_and_live_rows(client: httpx.AsyncClient) -> None:
    await client.get("/sandbox/v1/dmps")
    await client.get("/mss/v1/mailboxes")  # 401: refused
    page = _html(await client.get("/console/journal", params={"outcome": "refused"}))
    assert "/mss/v1/mailboxes" in page and 'href="/console/mss"' in page
    assert "/sandbox/v1/dmps</" not in page  # filtered out (ok)
    last = int(re.search(r'data-after="(\d+)"', page).group(1))  # type: ignore[union-attr]
    await client.get("/sandbox/v1/mailboxes")
    live = await client.get("/console/live/journal", params={"after": last})
    assert live.status_code == 200 and "/sandbox/v1/mailboxes" in live.text
    assert int(live.headers["x-last-id"]) > last
    journal = (await client.get("/sandbox/v1/journal", params={"path": "/console"})).json()["entries"]
    assert not [e for e in journal if e["path"].startswith("/console/live")]  # polling is not journaled
    by_service = _html(await client.get("/console/journal", params={"service": "sandbox", "since": "2000-01-01T00:00"}))
    assert "/sandbox/v1/mailboxes" in by_service and "/mss/v1/mailboxes" not in by_service
    backwards = await client.get("/console/journal", params={"since": "2030-01-01T00:00", "until": "2020-01-01T00:00"})
    assert backwards.status_code == 400


async def test_reset_needs_confirmation_and_resets(client: httpx.AsyncClient) -> None:
    token = await csrf(client)
    await client.post("/console/psc/clients", data={"csrf": token, "client_id": "to-be-forgotten"})
    unconfirmed = await client.post("/console/reset", data={"csrf": token})
    assert unconfirmed.status_code == 400
    assert (await client.get("/sandbox/v1/clients/to-be-forgotten")).status_code == 200
    done = await client.post("/console/reset", data={"csrf": token, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"].startswith("/console/journal")
    assert (await client.get("/sandbox/v1/clients/to-be-forgotten")).status_code == 404


async def test_reports_list_the_clients_of_the_journal(client: httpx.AsyncClient) -> None:
    """A report's key is the calling software (the journal's ``actor``), not the network peer."""
    from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, OIDC

    token = await client.post(OIDC + "/token", data={"grant_type": "client_credentials"},
                              auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert token.status_code == 200, token.text
    page = _html(await client.get("/console/reports"))
    actors = {e["actor"] for e in (await client.get("/sandbox/v1/journal")).json()["entries"] if e["actor"]}
    assert actors == {f"psc:{CONFIDENTIAL_CLIENT}"}
    assert f"/sandbox/v1/reports/psc%3A{CONFIDENTIAL_CLIENT}?format=html" in page
    # the count links to the actor's entries (the journal's ``actor``; ``client`` is the network peer)
    link = re.search(r'<a href="(/console/journal\?actor=[^"]+)">1</a>', page).group(1)  # type: ignore[union-attr]
    entries = _html(await client.get(link.replace("&amp;", "&")))
    assert "1 entrée(s)" in entries and "openid-connect/token" in entries
    assert f'id="actor" name="actor" placeholder="psc:mon-lps" value="psc:{CONFIDENTIAL_CLIENT}"' in entries
    other = _html(await client.get("/console/journal", params={"actor": "psc:someone-else"}))
    assert "0 entrée(s)" in other
    live = await client.get("/console/live/journal", params={"actor": "psc:someone-else"})
    assert live.text.strip() == ""


async def test_nul_characters_are_refused_before_the_store(client: httpx.AsyncClient) -> None:
    """PostgreSQL text cannot hold U+0000: the console refuses it in a path, a query or a form (422, a page)."""
    for path in ("/console/mss/a%00b@x.fr", "/console/dmp/12345%0067890123", "/console/journal?client=a%00b"):
        response = await client.get(path)
        assert response.status_code == 422 and "platform:nul-character" in response.text, path
    token = await csrf(client)
    form = await client.post("/console/psc/clients", data={"csrf": token, "client_id": "nul-name",
                                                            "client_name": "a\x00b"})
    assert form.status_code == 422
    assert (await client.get("/sandbox/v1/clients/nul-name")).status_code == 404


async def test_instants_without_a_utc_equivalent_are_refused_not_a_500(client: httpx.AsyncClient) -> None:
    """``0001-01-01T00:00:00+14:00`` parses but has no UTC datetime (OverflowError): 422 on the control API, the
    filter ignored on the console's pages."""
    from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, OIDC

    await client.post(OIDC + "/token", data={"grant_type": "client_credentials"},
                      auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    for name, value in (("since", "0001-01-01T00:00:00+14:00"), ("until", "9999-12-31T23:59:59-14:00")):
        for path in ("/sandbox/v1/journal", f"/sandbox/v1/reports/psc:{CONFIDENTIAL_CLIENT}"):
            refused = await client.get(path, params={name: value})
            assert refused.status_code == 422 and "out of range" in refused.text, (path, refused.text)
        page = _html(await client.get("/console/journal", params={name: value}))
        assert "openid-connect/token" in page  # the filter ignored
        live = await client.get("/console/live/journal", params={name: value})
        assert live.status_code == 200
    shifted = (await client.get("/sandbox/v1/journal", params={"until": "2999-01-01T10:00:00+14:00"})).json()
    assert shifted["total"] >= 1
