"""The patient's pages over HTTP (the browser tests are in test_browser_pages.py): the session cookie, CSRF on
every form, a form kept across an expired session, safe ``next`` paths, errors as French pages with the right
status (404 for another patient's data, never a 500 nor JSON)."""

from __future__ import annotations

import base64
from datetime import timedelta

from sqlalchemy import update

from app.db import utcnow
from app.dmp.documents import make_pdf
from app.mes.models import MesWebSession
from tests.mes.helpers import LEA, THOMAS, ZOE
from tests.mes.web.pages import csrf, hidden, sign_in, sign_in_from

LEFEVRE_RPPS = "10001000024"


async def test_sign_in_sets_a_strict_session_cookie_and_lands_home(client) -> None:
    response = await sign_in(client, ZOE)
    assert response.status_code == 303 and response.headers["location"] == f"/mes/patients/{ZOE}?ok=connecte"
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "mes_session=" in v)
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/mes" in lowered
    assert "secure" not in lowered  # the test client speaks http; https requests get Secure
    home = await client.get(response.headers["location"])
    assert home.status_code == 200 and 'lang="fr"' in home.text and "Vous êtes connecté(e)" in home.text
    assert "script" not in home.text.lower()
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]


async def test_unknown_ins_and_forged_sign_in_forms_are_refused_as_pages(client) -> None:
    first = await client.get("/mes/connexion")
    token = hidden(first.text, "signin_token")
    unknown = await client.post("/mes/connexion", data={"signin_token": token, "ins": "199999999999999"})
    assert unknown.status_code == 400 and unknown.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in unknown.text
    # The sign-in forms carry a double-submit token: a form posted from elsewhere (no cookie) is refused.
    client.cookies.clear()
    forged = await client.post("/mes/connexion", data={"signin_token": token, "person": ZOE})
    assert forged.status_code == 403 and "recommencez" in forged.text


async def test_a_wrong_code_stays_on_the_sign_in_page(client) -> None:
    first = await client.get("/mes/connexion")
    step = await client.post("/mes/connexion", data={"signin_token": hidden(first.text, "signin_token"),
                                                    "person": ZOE})
    wrong = await client.post("/mes/connexion/code", data={
        "signin_token": hidden(step.text, "signin_token"), "challenge_id": hidden(step.text, "challenge_id"),
        "code": "000000" if "000000" not in step.text else "111111"})
    assert wrong.status_code == 400 and "mes_session" not in wrong.headers.get("set-cookie", "")


async def test_a_page_without_session_goes_to_sign_in_then_back(client) -> None:
    asked = f"/mes/patients/{ZOE}/acces"
    response = await client.get(asked)
    assert response.status_code == 303 and response.headers["location"] == f"/mes/connexion?next={asked}"
    signed = await sign_in(client, ZOE, next_path=asked)
    assert signed.status_code == 303 and signed.headers["location"] == asked


async def test_next_never_leaves_the_patient_pages(client) -> None:
    for hostile in ("https://evil.example/", "//evil.example/mes/", "/mes/../sandbox/v1/reset", "/\\evil.example",
                    "/sandbox/v1/journal", "javascript:alert(1)"):
        client.cookies.clear()
        signed = await sign_in(client, ZOE, next_path=hostile)
        assert signed.headers["location"] == f"/mes/patients/{ZOE}?ok=connecte", hostile


async def test_csrf_token_missing_or_wrong_is_refused_and_nothing_changes(client) -> None:
    await sign_in(client, ZOE)
    for data in ({"rpps": LEFEVRE_RPPS}, {"rpps": LEFEVRE_RPPS, "csrf_token": "x" * 43}):
        refused = await client.post(f"/mes/patients/{ZOE}/acces/autoriser", data=data)
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
        assert "Formulaire refusé" in refused.text and "anti-falsification" in refused.text
    page = await client.get(f"/mes/patients/{ZOE}/acces")
    assert page.status_code == 200
    assert LEFEVRE_RPPS not in page.text.split("Professionnels bloqués")[0]
    journal = (await client.get("/sandbox/v1/journal", params={"limit": 5})).json()
    assert any(entry.get("rule") == "mes:csrf" for entry in journal["entries"]), journal


async def test_another_patients_pages_are_404_pages(client) -> None:
    await sign_in(client, ZOE)
    for path in (f"/mes/patients/{THOMAS}", f"/mes/patients/{THOMAS}/documents",
                 f"/mes/patients/{ZOE}/documents/no-such-document"):
        response = await client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"].startswith("text/html") and 'role="alert"' in response.text
    token = await csrf(client, ZOE)
    posted = await client.post(f"/mes/patients/{THOMAS}/acces/bloquer", data={"csrf_token": token,
                                                                               "rpps": LEFEVRE_RPPS})
    assert posted.status_code == 404


async def test_a_representative_switches_to_the_minor(client) -> None:
    await sign_in(client, THOMAS)
    home = await client.get(f"/mes/patients/{THOMAS}")
    assert f'href="/mes/patients/{LEA}"' in home.text
    minor = await client.get(f"/mes/patients/{LEA}")
    assert minor.status_code == 200 and "représentant légal" in minor.text


async def test_unknown_routes_and_bad_methods_are_pages_the_api_stays_json(client) -> None:
    page = await client.get("/mes/nulle-part")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    method = await client.put("/mes/connexion")
    assert method.status_code == 405 and method.headers["content-type"].startswith("text/html")
    api = await client.get("/mes/api/v1/nowhere")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


async def _expire(session) -> None:  # type: ignore[no-untyped-def]
    await session.execute(update(MesWebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()


async def test_an_expired_session_keeps_the_form_across_sign_in(client, session) -> None:
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    await _expire(session)
    kept = await client.post(f"/mes/patients/{ZOE}/acces/autoriser", data={"csrf_token": token,
                                                                           "rpps": LEFEVRE_RPPS})
    assert kept.status_code == 401 and "Votre session a expiré" in kept.text
    journal = (await client.get("/sandbox/v1/journal", params={"limit": 5})).json()
    assert any(entry.get("rule") == "mes:session-expired" for entry in journal["entries"]), journal
    assert "Autoriser un professionnel" in kept.text and hidden(kept.text, "pending")
    resumed = await sign_in_from(client, kept.text, ZOE)
    assert resumed.status_code == 200 and "Reprendre votre action" in resumed.text and LEFEVRE_RPPS in resumed.text
    confirmed = await client.post(f"/mes/patients/{ZOE}/acces/autoriser", data={
        "csrf_token": hidden(resumed.text, "csrf_token"), "rpps": hidden(resumed.text, "rpps")})
    assert confirmed.status_code == 303 and confirmed.headers["location"].endswith("/acces?ok=autorise")
    page = await client.get(f"/mes/patients/{ZOE}/acces")
    assert LEFEVRE_RPPS in page.text.split("Professionnels bloqués")[0]


async def test_an_expired_session_keeps_a_small_upload(client, session) -> None:
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    await _expire(session)
    pdf = make_pdf("Ancien examen", ("Radiographie de 2019",))
    kept = await client.post(
        f"/mes/patients/{ZOE}/documents/ajouter",
        data={"csrf_token": token, "title": "Radio 2019", "type_code": "18748-4", "service_date": "2019-03-01"},
        files={"file": ("radio.pdf", pdf, "application/pdf")})
    assert kept.status_code == 401 and "Ajouter un document" in kept.text
    resumed = await sign_in_from(client, kept.text, ZOE)
    assert "radio.pdf (conservé)" in resumed.text
    assert base64.b64decode(hidden(resumed.text, "pending_file")) == pdf
    fields = {name: hidden(resumed.text, name) for name in ("csrf_token", "title", "type_code", "service_date",
                                                             "pending_file", "pending_file_name",
                                                             "pending_file_type")}
    done = await client.post(f"/mes/patients/{ZOE}/documents/ajouter", data=fields,
                             files={"file": ("", b"", "application/octet-stream")})
    assert done.status_code == 303, done.text
    listing = await client.get(f"/mes/patients/{ZOE}/documents")
    assert "Radio 2019" in listing.text


async def test_an_expired_session_keeps_an_upload_near_the_bound(client, session) -> None:
    # PENDING_FILE_MAX (2 MB) is kept, though base64-encoded twice in the sign-in forms' hidden field: their
    # fields are read with a part size to match, not Starlette's default 1 MB (a 400 and the upload lost)
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    await _expire(session)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * (1_900_000 // 256)
    assert len(pdf) > 1_890_000
    kept = await client.post(
        f"/mes/patients/{ZOE}/documents/ajouter",
        data={"csrf_token": token, "title": "Scanner 2020", "type_code": "18748-4", "service_date": "2020-03-01"},
        files={"file": ("scanner.pdf", pdf, "application/pdf")})
    assert kept.status_code == 401 and "Ajouter un document" in kept.text
    resumed = await sign_in_from(client, kept.text, ZOE)
    assert "scanner.pdf (conservé)" in resumed.text
    fields = {name: hidden(resumed.text, name) for name in ("csrf_token", "title", "type_code", "service_date",
                                                             "pending_file", "pending_file_name",
                                                             "pending_file_type")}
    # expired again on the page that resumes it: kept again
    await _expire(session)
    again = await client.post(f"/mes/patients/{ZOE}/documents/ajouter", data=fields,
                              files={"file": ("", b"", "application/octet-stream")})
    assert again.status_code == 401 and "Ajouter un document" in again.text
    resumed = await sign_in_from(client, again.text, ZOE)
    fields = {name: hidden(resumed.text, name) for name in fields}
    assert base64.b64decode(fields["pending_file"]) == pdf
    done = await client.post(f"/mes/patients/{ZOE}/documents/ajouter", data=fields,
                             files={"file": ("", b"", "application/octet-stream")})
    assert done.status_code == 303, done.text
    listing = await client.get(f"/mes/patients/{ZOE}/documents")
    assert "Scanner 2020" in listing.text


async def test_uploads_are_type_checked_and_bounded_as_pages(client, settings) -> None:
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    fake = await client.post(
        f"/mes/patients/{ZOE}/documents/ajouter",
        data={"csrf_token": token, "title": "Pas un PDF", "type_code": "11488-4"},
        files={"file": ("x.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")})
    assert fake.status_code in (400, 415, 422) and fake.headers["content-type"].startswith("text/html")
    big = await client.post(
        f"/mes/patients/{ZOE}/documents/ajouter",
        data={"csrf_token": token, "title": "Trop gros", "type_code": "11488-4"},
        files={"file": ("big.pdf", b"%PDF-1.4\n" + b"0" * settings.mes_upload_max_bytes, "application/pdf")})
    assert big.status_code == 413 and big.headers["content-type"].startswith("text/html")
    bad_type = await client.post(
        f"/mes/patients/{ZOE}/documents/ajouter",
        data={"csrf_token": token, "title": "x", "type_code": "<script>"},
        files={"file": ("x.pdf", make_pdf("x", ("y",)), "application/pdf")})
    assert bad_type.status_code == 400 and "<script>" not in bad_type.text


async def test_over_https_the_session_cookie_is_secure(app, client) -> None:  # type: ignore[no-untyped-def]
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://sandbox.test") as secure:
        response = await sign_in(secure, ZOE)
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "mes_session=" in v)
    assert "secure" in cookie.lower()


async def _document_id(client, ins: str, title: str) -> str:  # type: ignore[no-untyped-def]
    import re
    from html import unescape

    listing = await client.get(f"/mes/patients/{ins}/documents")
    assert listing.status_code == 200, listing.text
    links = re.findall(rf'href="/mes/patients/{ins}/documents/([^"/]+)">([^<]*)<', listing.text)
    found = [document_id for document_id, text in links if unescape(text) == title]
    assert found, links
    return found[0]


async def test_deleting_needs_the_confirmation_then_the_document_is_gone(client) -> None:
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    document_id = await _document_id(client, ZOE, "CR d'imagerie medicale")
    page = await client.get(f"/mes/patients/{ZOE}/documents/{document_id}")
    assert page.status_code == 200 and "<article" in page.text and "iframe" in page.text
    framed = await client.get(f"/mes/patients/{ZOE}/documents/{document_id}/fichier")
    assert framed.status_code == 200 and framed.content.startswith(b"%PDF")
    assert framed.headers["x-frame-options"] == "SAMEORIGIN" and framed.headers["content-type"] == "application/pdf"
    # the CDA itself is never shown as a page of the site: a download, sandboxed
    raw = await client.get(f"/mes/patients/{ZOE}/documents/{document_id}/contenu")
    assert raw.status_code == 200 and raw.headers["content-disposition"].startswith("attachment")
    assert raw.headers["content-type"] == "application/octet-stream" and "sandbox" in raw.headers[
        "content-security-policy"]
    confirm = await client.get(f"/mes/patients/{ZOE}/documents/{document_id}/suppression")
    assert confirm.status_code == 200 and 'name="confirmer"' in confirm.text
    unconfirmed = await client.post(f"/mes/patients/{ZOE}/documents/{document_id}/suppression",
                                    data={"csrf_token": token})
    assert unconfirmed.status_code == 400 and "confirm" in unconfirmed.text
    deleted = await client.post(f"/mes/patients/{ZOE}/documents/{document_id}/suppression",
                                data={"csrf_token": token, "confirmer": "oui"})
    assert deleted.status_code == 303 and deleted.headers["location"].endswith("/documents?ok=supprime")


async def test_profile_and_emergency_and_notification_settings(client) -> None:
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    urgency = await client.post(f"/mes/patients/{ZOE}/acces/urgence",
                                data={"csrf_token": token, "oppose_bris_de_glace": "1"})
    assert urgency.status_code == 303
    access = await client.get(f"/mes/patients/{ZOE}/acces")
    assert 'id="oppose_bris_de_glace" name="oppose_bris_de_glace" value="1" checked' in access.text
    assert 'id="oppose_centre_15" name="oppose_centre_15" value="1">' in access.text
    closed = await client.post(f"/mes/patients/{ZOE}/profil/fermer", data={"csrf_token": token, "motif": "test"})
    assert closed.status_code == 303
    home = await client.get(f"/mes/patients/{ZOE}")
    assert "fermé" in home.text and "Rouvrir mon profil" in home.text
    reopened = await client.post(f"/mes/patients/{ZOE}/profil/rouvrir", data={"csrf_token": token})
    assert reopened.status_code == 303
    unknown_box = await client.post(f"/mes/patients/{ZOE}/notifications/courriel",
                                    data={"csrf_token": token, "email": "personne@nulle-part.invalid"})
    assert unknown_box.status_code in (400, 422) and unknown_box.headers["content-type"].startswith("text/html")
    cleared = await client.post(f"/mes/patients/{ZOE}/notifications/courriel", data={"csrf_token": token,
                                                                                    "email": ""})
    assert cleared.status_code == 303


async def test_a_minor_hides_a_document_from_their_representative(client) -> None:
    await sign_in(client, LEA)
    token = await csrf(client, LEA)
    document_id = await _document_id(client, LEA, "Note de vaccination")
    hidden_ = await client.post(f"/mes/patients/{LEA}/documents/{document_id}/representants",
                                data={"csrf_token": token, "hidden": "1"})
    assert hidden_.status_code == 303
    client.cookies.clear()
    await sign_in(client, THOMAS)
    listing = await client.get(f"/mes/patients/{LEA}/documents")
    assert listing.status_code == 200 and document_id not in listing.text
    assert (await client.get(f"/mes/patients/{LEA}/documents/{document_id}")).status_code == 404


async def test_a_closed_conversation_shows_why_no_reply_and_refuses_one(client) -> None:
    from tests.mss.asking import auth as mss_auth
    from tests.mss.asking import box
    from tests.mss.conftest import DOCTOR, DOCTOR_SNI

    sent = await client.post(box(DOCTOR), headers=await mss_auth(client, DOCTOR_SNI), json={
        "to": [f"{ZOE}@patient.mssante.fr"], "subject": "[FIN] Résultats transmis", "body": "Fin de l'échange.",
        "headers": {"X-MSS-NIL": "NIL-TEST"}})
    assert sent.status_code == 202, sent.text
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    uid = sent.json()["uid"]
    page = await client.get(f"/mes/patients/{ZOE}/messages/{uid}")
    assert page.status_code == 200 and 'id="reply-refused"' in page.text and "/repondre" not in page.text
    refused = await client.post(f"/mes/patients/{ZOE}/messages/{uid}/repondre",
                                data={"csrf_token": token, "text": "Encore une question"})
    assert refused.status_code == 409 and refused.headers["content-type"].startswith("text/html")
    other = await client.get(f"/mes/patients/{THOMAS}/messages/{uid}")
    assert other.status_code == 404


async def test_writing_to_a_pharmacy_that_dispensed_and_only_to_one(client) -> None:
    from tests.mss.asking import auth as mss_auth
    from tests.mss.asking import box

    pharmacy = "pharmacie.du-marche@medecin.mssante.fr"  # dispensed to ZOE in the MSS seed
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    form = await client.get(f"/mes/patients/{ZOE}/messages/pharmacie")
    assert form.status_code == 200 and f'<option value="{pharmacy}">' in form.text
    refused = await client.post(f"/mes/patients/{ZOE}/messages/pharmacie", data={
        "csrf_token": token, "mailbox": "claire.fontaine@medecin.mssante.fr", "subject": "Bonjour", "text": "x"})
    assert refused.status_code == 403 and "pharmacie" in refused.text
    sent = await client.post(f"/mes/patients/{ZOE}/messages/pharmacie", data={
        "csrf_token": token, "mailbox": pharmacy, "subject": "Mon ordonnance", "text": "Je passe demain."})
    assert sent.status_code == 303 and sent.headers["location"].endswith("/messages?ok=envoye")
    pharmacist = await mss_auth(client, "810001000040")  # a user of the pharmacy's organisational mailbox
    listed = (await client.get(box(pharmacy), headers=pharmacist)).json()
    assert [item["subject"] for item in listed["items"]] == ["Mon ordonnance"]


async def test_malformed_requests_on_page_routes_are_pages_never_500(client) -> None:
    await sign_in(client, ZOE)
    broken = await client.post(f"/mes/patients/{ZOE}/documents/ajouter", content=b"--x\r\nnot a part",
                               headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 400 and broken.headers["content-type"].startswith("text/html")
    wrong_index = await client.get(f"/mes/patients/{ZOE}/messages/1/pieces/abc")
    assert wrong_index.status_code == 422 and wrong_index.headers["content-type"].startswith("text/html")
    nul = await client.get(f"/mes/patients/{ZOE}/historique", params={"qui": "\x00", "mode": "<script>"})
    assert nul.status_code == 200 and "<script>" not in nul.text
    huge = await client.get(f"/mes/patients/{ZOE}/historique", params={"avant": "9" * 40})
    assert huge.status_code == 400 and huge.headers["content-type"].startswith("text/html")


async def test_sign_out_ends_the_session(client) -> None:
    await sign_in(client, ZOE)
    token = await csrf(client, ZOE)
    out = await client.post("/mes/deconnexion", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/mes/connexion"
    assert 'mes_session=""' in out.headers["set-cookie"] or "max-age=0" in out.headers["set-cookie"].lower()
    after = await client.get(f"/mes/patients/{ZOE}/documents")
    assert after.status_code == 303 and after.headers["location"].startswith("/mes/connexion?next=")


async def test_ids_beyond_32_bits_and_nul_characters_are_a_page_not_a_500(client, session) -> None:
    # PostgreSQL: an integer column holds 32 bits and a text no U+0000
    await sign_in(client, ZOE)
    history = await client.get(f"/mes/patients/{ZOE}/historique", params={"avant": "99999999999"})
    assert history.status_code == 400 and history.headers["content-type"].startswith("text/html")
    token = await csrf(client, ZOE)
    read = await client.post(f"/mes/patients/{ZOE}/notifications/lues",
                             data={"csrf_token": token, "id": "99999999999"})
    assert read.status_code == 400 and read.headers["content-type"].startswith("text/html")
    upload = await client.post(f"/mes/patients/{ZOE}/documents/ajouter",
                               data={"csrf_token": token, "title": "t\x00t", "type_code": "11488-4"},
                               files={"file": ("x.pdf", make_pdf("x", ("y",)), "application/pdf")})
    assert upload.status_code == 400 and "U+0000" not in upload.text and "caractère" in upload.text
    close = await client.post(f"/mes/patients/{ZOE}/profil/fermer", data={"csrf_token": token, "motif": "m\x00m"})
    assert close.status_code == 400
    assert "/profil/fermer" in (await client.get(f"/mes/patients/{ZOE}")).text  # still open
    # a NUL in a form kept across an expired session: refused when it comes back
    await _expire(session)
    kept = await client.post(f"/mes/patients/{ZOE}/profil/fermer", data={"csrf_token": token, "motif": "m\x00m"})
    assert kept.status_code == 401
    step = await client.post("/mes/connexion", data={
        "signin_token": hidden(kept.text, "signin_token"), "next": hidden(kept.text, "next"),
        "pending": hidden(kept.text, "pending"), "person": ZOE})
    assert step.status_code == 400 and step.headers["content-type"].startswith("text/html")
