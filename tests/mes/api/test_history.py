"""The activity history and the notifications, fed by professionals' real accesses: FHIR (ITI-65, ITI-67) and
XDS.b (ITI-18), normal and break-glass, refusals included; the patient's own actions are not in it."""

from __future__ import annotations

from tests.mes.helpers import BERNARD, FONTAINE, ZOE, auth, file_document, iti18_ids, iti67

BASE = f"/mes/api/v1/patients/{ZOE}"
BRIS = {"X-DMP-Access-Mode": "bris_de_glace", "X-DMP-Access-Reason": "patient inconscient aux urgences"}
MAILBOX = f"{ZOE}@patient.mssante.fr"


async def test_professional_accesses_fhir_and_soap_are_in_the_history_with_their_mode(client) -> None:
    headers = await auth(client, ZOE)
    doc_id = await file_document(client)
    assert (await iti67(client, FONTAINE, ZOE)).status_code == 200
    await iti18_ids(client, FONTAINE, ZOE)
    assert (await iti67(client, BERNARD, ZOE, **BRIS)).status_code == 200
    # the patient's own actions are no one else's: not in their history
    await client.put(f"{BASE}/documents/{doc_id}/masked", json={"masked": True}, headers=headers)
    await client.get(f"{BASE}/documents", headers=headers)

    response = await client.get(f"{BASE}/activity", headers=headers)
    assert response.status_code == 200, response.text
    entries = response.json()
    assert [e["transaction"] for e in entries] == ["ITI-67", "ITI-18", "ITI-67", "ITI-65"]
    bris, soap, fhir, feed = entries
    assert bris["who_rpps"] == BERNARD[1:] and bris["access_mode"] == "bris_de_glace"
    assert bris["reason"] == BRIS["X-DMP-Access-Reason"] and bris["outcome"] == "success"
    assert soap["who_name"] == "Claire Fontaine" and soap["access_mode"] == "normal" and "XDS.b" in soap["what"]
    assert fhir["what"].startswith("Recherche") and "FHIR" in fhir["what"]
    assert feed["document_ids"] == [doc_id] and feed["document_titles"]
    page = await client.get(f"{BASE}/activity", params={"limit": 2, "before": soap["id"]}, headers=headers)
    assert [e["id"] for e in page.json()] == [fhir["id"], feed["id"]]


async def test_a_refused_access_is_in_the_history(client) -> None:
    headers = await auth(client, ZOE)
    await client.put(f"{BASE}/access/emergency", json={"bris_de_glace": False}, headers=headers)
    assert (await iti67(client, BERNARD, ZOE, **BRIS)).status_code == 403
    entry = (await client.get(f"{BASE}/activity", headers=headers)).json()[0]
    assert entry["outcome"] == "refused" and "opt-out-bris-de-glace" in entry["outcome_text"]


async def test_new_documents_and_break_glass_make_notifications(client) -> None:
    headers = await auth(client, ZOE)
    assert (await client.get(f"{BASE}/notifications", headers=headers)).json() == []
    doc_id = await file_document(client)
    assert (await iti67(client, FONTAINE, ZOE)).status_code == 200  # a normal access: no notification
    assert (await iti67(client, BERNARD, ZOE, **BRIS)).status_code == 200
    response = await client.get(f"{BASE}/notifications", headers=headers)
    assert response.status_code == 200, response.text
    found = response.json()
    assert [n["kind"] for n in found] == ["bris_de_glace", "new_document"]
    assert found[1]["document_ids"] == [doc_id] and "Claire Fontaine" in found[1]["body"]
    assert "Sophie Bernard" in found[0]["body"] and "patient inconscient" in found[0]["body"]
    profile = await client.get(BASE, headers=headers)
    assert profile.json()["unread_notifications"] == 2
    # read twice: made once
    assert len((await client.get(f"{BASE}/notifications", headers=headers)).json()) == 2
    marked = await client.post(f"{BASE}/notifications/read", json={"ids": [found[1]["id"]]}, headers=headers)
    assert marked.json() == {"marked": 1}
    unread = await client.get(f"{BASE}/notifications", params={"unread": "true"}, headers=headers)
    assert [n["id"] for n in unread.json()] == [found[0]["id"]]
    assert (await client.post(f"{BASE}/notifications/read", json={}, headers=headers)).json() == {"marked": 1}


async def test_notifications_are_mailed_to_the_configured_mailbox(client) -> None:
    headers = await auth(client, ZOE)
    refused = await client.put(f"{BASE}/notification-settings", json={"email": "zoe@gmail.com"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["rule"] == "MES:notification-mailbox"
    accepted = await client.put(f"{BASE}/notification-settings", json={"email": MAILBOX}, headers=headers)
    assert accepted.status_code == 200 and accepted.json()["email"] == MAILBOX
    await file_document(client)
    await client.get(f"{BASE}/notifications", headers=headers)
    messages = await client.get(f"/sandbox/v1/mailboxes/{MAILBOX}/messages")
    assert messages.status_code == 200, messages.text
    subjects = [m["subject"] for m in messages.json()["items"]]
    assert subjects == ["Mon espace santé : Nouveau document dans votre profil"]
    stopped = await client.put(f"{BASE}/notification-settings", json={"email": None}, headers=headers)
    assert stopped.json() == {"email": None}


async def test_a_harness_dispatches_the_pending_notifications(client) -> None:
    headers = await auth(client, ZOE)
    await client.put(f"{BASE}/notification-settings", json={"email": MAILBOX}, headers=headers)
    await file_document(client)
    assert (await iti67(client, BERNARD, ZOE, **BRIS)).status_code == 200
    dispatched = await client.post("/sandbox/v1/mes/notifications/dispatch", params={"ins": ZOE})
    assert dispatched.status_code == 200 and dispatched.json() == {"notifications": 2}
    messages = (await client.get(f"/sandbox/v1/mailboxes/{MAILBOX}/messages")).json()["items"]
    assert len(messages) == 2
    assert (await client.post("/sandbox/v1/mes/notifications/dispatch")).json() == {"notifications": 0}
    unknown = await client.post("/sandbox/v1/mes/notifications/dispatch", params={"ins": "1" * 40})
    assert unknown.status_code == 404
    profile = await client.get(BASE, headers=headers)
    assert profile.json()["unread_notifications"] == 2
