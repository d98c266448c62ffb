"""Access control by the patient, checked on the professional side: authorise, block and unblock a professional
(not the médecin traitant), oppose and accept break-glass and centre 15 access, close and reopen the profile."""

from __future__ import annotations

from tests.mes.helpers import BERNARD, FONTAINE, LEFEVRE, ZOE, auth, file_document, iti18_ids, iti67

ACCESS = f"/mes/api/v1/patients/{ZOE}/access"
BRIS = {"X-DMP-Access-Mode": "bris_de_glace", "X-DMP-Access-Reason": "patient inconscient aux urgences"}


async def test_authorise_then_block_then_unblock_a_professional(client) -> None:
    headers = await auth(client, ZOE)
    assert (await iti67(client, LEFEVRE, ZOE)).status_code == 403  # NON_EXISTE
    authorised = await client.post(f"{ACCESS}/authorised", json={"rpps": LEFEVRE}, headers=headers)  # IDNPS form
    assert authorised.status_code == 200, authorised.text
    assert LEFEVRE[1:] in {p["rpps"] for p in authorised.json()["authorised"]}
    assert (await iti67(client, LEFEVRE, ZOE)).status_code == 200

    blocked = await client.post(f"{ACCESS}/blocked", json={"rpps": LEFEVRE[1:]}, headers=headers)
    assert blocked.status_code == 200 and [p["rpps"] for p in blocked.json()["blocked"]] == [LEFEVRE[1:]]
    refused = await iti67(client, LEFEVRE, ZOE)
    assert refused.status_code == 403 and "DMP:blocked" in refused.text
    assert (await iti67(client, LEFEVRE, ZOE, **BRIS)).status_code == 403  # break-glass included
    # the XDS.b face applies the same rule
    from app.dmp.soap import namespaces as ns
    from tests.dmp.soap.client import post_soap
    from tests.dmp.soap.test_iti18 import find_documents, vihf_for

    assertion, extra = await vihf_for(client, LEFEVRE, ZOE)
    answer = await post_soap(client, "registry", ns.ACTION_ITI18, find_documents(ZOE), vihf=assertion, headers=extra)
    assert answer.payload is not None and answer.payload.get("status") == ns.STATUS_FAILURE

    unblocked = await client.delete(f"{ACCESS}/blocked/{LEFEVRE[1:]}", headers=headers)
    assert unblocked.status_code == 200 and unblocked.json()["blocked"] == []
    assert (await iti67(client, LEFEVRE, ZOE)).status_code == 200
    assert (await client.delete(f"{ACCESS}/blocked/{LEFEVRE[1:]}", headers=headers)).status_code == 404


async def test_the_medecin_traitant_cannot_be_blocked(client) -> None:
    headers = await auth(client, ZOE)
    settings = await client.get(ACCESS, headers=headers)
    assert [p["rpps"] for p in settings.json()["medecins_traitants"]] == [FONTAINE[1:]]
    refused = await client.post(f"{ACCESS}/blocked", json={"rpps": FONTAINE[1:]}, headers=headers)
    assert refused.status_code == 403 and refused.json()["rule"] == "MES:block-medecin-traitant"
    assert (await iti67(client, FONTAINE, ZOE)).status_code == 200


async def test_unknown_or_malformed_professionals_are_refused(client) -> None:
    headers = await auth(client, ZOE)
    assert (await client.post(f"{ACCESS}/blocked", json={"rpps": "12"}, headers=headers)).status_code == 400
    unknown = await client.post(f"{ACCESS}/authorised", json={"rpps": "19999999999"}, headers=headers)
    assert unknown.status_code == 404


async def test_opposing_break_glass_refuses_it_and_accepting_allows_it_again(client) -> None:
    headers = await auth(client, ZOE)
    assert (await iti67(client, BERNARD, ZOE, **BRIS)).status_code == 200
    opposed = await client.put(f"{ACCESS}/emergency", json={"bris_de_glace": False}, headers=headers)
    assert opposed.status_code == 200
    assert opposed.json()["emergency_access"] == {"bris_de_glace": False, "centre_15": True}
    refused = await iti67(client, BERNARD, ZOE, **BRIS)
    assert refused.status_code == 403 and "DMP:opt-out-bris-de-glace" in refused.text
    assert (await iti67(client, BERNARD, ZOE, **{"X-DMP-Access-Mode": "centre_15"})).status_code == 200
    await client.put(f"{ACCESS}/emergency", json={"centre_15": False}, headers=headers)
    assert (await iti67(client, BERNARD, ZOE, **{"X-DMP-Access-Mode": "centre_15"})).status_code == 403
    await client.put(f"{ACCESS}/emergency", json={"bris_de_glace": True, "centre_15": True}, headers=headers)
    assert (await iti67(client, BERNARD, ZOE, **BRIS)).status_code == 200
    assert await iti18_ids(client, BERNARD, ZOE, access_mode="bris_de_glace", access_reason="urgence vitale")


async def test_closing_and_reopening_the_profile(client) -> None:
    headers = await auth(client, ZOE)
    closed = await client.post(f"/mes/api/v1/patients/{ZOE}/close", json={"reason": "je ne veux plus"},
                               headers=headers)
    assert closed.status_code == 200 and closed.json()["dmp_state"] == "closed"
    refused = await iti67(client, FONTAINE, ZOE)
    assert refused.status_code == 422 and "DMP:closed" in refused.text
    again = await client.post(f"/mes/api/v1/patients/{ZOE}/close", headers=headers)
    assert again.status_code == 409
    reopened = await client.post(f"/mes/api/v1/patients/{ZOE}/reopen", headers=headers)
    assert reopened.status_code == 200 and reopened.json()["dmp_state"] == "active"
    assert (await iti67(client, FONTAINE, ZOE)).status_code == 200


async def test_objecting_to_creation_after_professionals_fed_it_is_refused(client) -> None:
    headers = await auth(client, ZOE)
    refused = await client.post(f"/mes/api/v1/patients/{ZOE}/object-to-creation", headers=headers)
    assert refused.status_code == 403 and refused.json()["rule"] == "MES:objection-fed"


NEW_PERSON = {"NomNaissance": "NOUVEAU", "ListePrenom": "CAMILLE", "Sexe": "F", "DateNaissance": "1990-04-04",
              "LieuNaissance": "75056", "INSACTIF": {"IdIndividu": {"NumIdentifiant": "2900475056123", "Cle": "68"},
                                                     "OID": "1.2.250.1.213.1.4.8"}}
NEW_INS = "290047505612368"
V3 = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
A07 = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"


async def test_a_profile_fed_with_a_document_the_patient_cannot_see_may_not_be_objected_to(client) -> None:
    # the objection is refused once professionals fed the profile, whether the patient sees the document or not
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    assert (await client.post("/sandbox/v1/dmps", json={"ins": NEW_INS})).status_code == 201
    await file_document(client, ins=NEW_INS, labels=[{"system": V3, "code": "N"},
                                                     {"system": A07, "code": "INVISIBLE_PATIENT"}])
    headers = await auth(client, NEW_INS)
    assert (await client.get(f"/mes/api/v1/patients/{NEW_INS}/documents", headers=headers)).json() == []
    refused = await client.post(f"/mes/api/v1/patients/{NEW_INS}/object-to-creation", headers=headers)
    assert refused.status_code == 403 and refused.json()["rule"] == "MES:objection-fed"


async def test_a_new_profile_may_be_objected_to_and_reopened(client) -> None:
    """A person the harness adds (control API) with a DMP no professional fed yet: the objection closes it."""
    person = {"NomNaissance": "NOUVEAU", "ListePrenom": "CAMILLE", "Sexe": "F", "DateNaissance": "1990-04-04",
              "LieuNaissance": "75056", "INSACTIF": {"IdIndividu": {"NumIdentifiant": "2900475056123", "Cle": "68"},
                                                     "OID": "1.2.250.1.213.1.4.8"}}
    created = await client.post("/sandbox/v1/persons", json=person)
    assert created.status_code == 201, created.text
    ins = "290047505612368"
    assert (await client.post("/sandbox/v1/dmps", json={"ins": ins})).status_code == 201
    headers = await auth(client, ins)
    objected = await client.post(f"/mes/api/v1/patients/{ins}/object-to-creation", headers=headers)
    assert objected.status_code == 200, objected.text
    assert objected.json()["dmp_state"] == "opposed"
    refused = await iti67(client, FONTAINE, ins)
    assert refused.status_code == 422 and "DMP:closed" in refused.text
    again = await client.post(f"/mes/api/v1/patients/{ins}/object-to-creation", headers=headers)
    assert again.status_code == 409
    assert (await client.post(f"/mes/api/v1/patients/{ins}/reopen", headers=headers)).json()["dmp_state"] == "active"
