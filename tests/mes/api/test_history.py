"""The activity history and the notifications, fed by professionals' real accesses: FHIR (ITI-65, ITI-67) and
XDS.b (ITI-18), normal and break-glass, refusals included; the patient's own actions are not in it."""

from __future__ import annotations

from tests.mes.helpers import BERNARD, FONTAINE, LEA, THOMAS, ZOE, auth, file_document, iti18_ids, iti67

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


V3 = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
A07 = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"


def hidden(code: str) -> list[dict[str, str]]:
    return [{"system": V3, "code": "N"}, {"system": A07, "code": code}]


async def test_a_document_hidden_from_the_patient_is_named_nowhere(client) -> None:
    # reference/dmp.md §2.4: INVISIBLE_PATIENT is not visible to the patient, so neither its id nor its title
    headers = await auth(client, ZOE)
    await client.put(f"{BASE}/notification-settings", json={"email": MAILBOX}, headers=headers)
    doc_id = await file_document(client, title="Annonce diagnostic secret", labels=hidden("INVISIBLE_PATIENT"))
    shown = await file_document(client, title="Compte rendu visible")
    activity = await client.get(f"{BASE}/activity", headers=headers)
    assert activity.status_code == 200 and "secret" not in activity.text and doc_id not in activity.text
    assert "Compte rendu visible" in activity.text
    found = (await client.get(f"{BASE}/notifications", headers=headers)).json()
    assert [n["document_ids"] for n in found] == [[shown]]
    messages = (await client.get(f"/sandbox/v1/mailboxes/{MAILBOX}/messages")).json()["items"]
    assert len(messages) == 1
    assert (await client.get(BASE, headers=headers)).json()["unread_notifications"] == 1


async def test_a_document_hidden_from_representatives_is_not_named_to_them(client) -> None:
    # reference/dmp.md §2.4: INVISIBLE_REPRESENTANTS_LEGAUX hides it from the legal representatives, not the minor
    base = f"/mes/api/v1/patients/{LEA}"
    doc_id = await file_document(client, ins=LEA, title="Contraception secret",
                                 labels=hidden("INVISIBLE_REPRESENTANTS_LEGAUX"))
    parent = await auth(client, THOMAS)
    activity = await client.get(f"{base}/activity", headers=parent)
    assert activity.status_code == 200 and "secret" not in activity.text and doc_id not in activity.text
    assert (await client.get(f"{base}/notifications", headers=parent)).json() == []
    assert (await client.get(base, headers=parent)).json()["unread_notifications"] == 0
    assert (await client.post(f"{base}/notifications/read", json={}, headers=parent)).json() == {"marked": 0}
    minor = await auth(client, LEA)
    assert "Contraception secret" in (await client.get(f"{base}/activity", headers=minor)).text
    found = (await client.get(f"{base}/notifications", headers=minor)).json()
    assert [(n["document_ids"], n["read"]) for n in found] == [([doc_id], False)]
    assert "Contraception secret" in found[0]["body"]
    # hidden from them later: what they were told of it is theirs no more
    visible = await file_document(client, ins=LEA, title="Vaccin grippe")
    assert len((await client.get(f"{base}/notifications", headers=parent)).json()) == 1
    hide = await client.put(f"{base}/documents/{visible}/hidden-from-representatives", json={"hidden": True},
                            headers=minor)
    assert hide.status_code == 200, hide.text
    assert (await client.get(f"{base}/notifications", headers=parent)).json() == []


async def test_notifications_go_only_to_the_patients_own_mailbox(client) -> None:
    # a professional's mailbox or another patient's would receive what the DMP tells the patient alone
    headers = await auth(client, ZOE)
    boxes = {(m["type"], m["address"].lower()) for m in (await client.get("/sandbox/v1/mailboxes")).json()}
    professional = next(address for kind, address in sorted(boxes) if kind == "PER")
    assert ("PAT", f"{THOMAS}@patient.mssante.fr".lower()) in boxes
    for other in (professional, f"{THOMAS}@patient.mssante.fr"):
        refused = await client.put(f"{BASE}/notification-settings", json={"email": other}, headers=headers)
        assert refused.status_code == 422 and refused.json()["rule"] == "MES:notification-mailbox", refused.text
    parent = await auth(client, THOMAS)
    minor = f"/mes/api/v1/patients/{LEA}/notification-settings"
    mine = await client.put(minor, json={"email": f"{THOMAS}@patient.mssante.fr"}, headers=parent)
    assert mine.status_code == 422
    theirs = await client.put(minor, json={"email": f"{LEA}@patient.mssante.fr"}, headers=parent)
    assert theirs.status_code == 200 and theirs.json() == {"email": f"{LEA}@patient.mssante.fr"}
    assert (await client.get(f"{BASE}/notification-settings", headers=headers)).json() == {"email": None}
