"""Every refusal of the DMP access rules, over HTTP: the rule that refused (OperationOutcome
``issue.details.coding`` ``urn:segur-sandbox:rule``) and why, in French then English (``issue.diagnostics`` =
``"<français> — <English>"``), naming the facts; a masked document stays a 404 indistinguishable from an
unknown one (MHD ITI-68 §3.68.4.2.3: a 403 would say it exists)."""

from __future__ import annotations

import json

from tests.dmp.builders import TRE_A07, provide_bundle
from tests.dmp.conftest import BERNARD, FONTAINE, LEFEVRE, ZOE

FHIR = "application/fhir+json"
PATIENT_ID = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
RULE_SYSTEM = "urn:segur-sandbox:rule"
MASK = [{"op": "replace", "path": "/securityLabel/0", "value": {"coding": [{"system": TRE_A07, "code": "MASQUE_PS"}]}}]


def refusal(response, status: int, rule: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(French, English) of a refusal with this status and rule."""
    assert response.status_code == status, response.text
    issue = response.json()["issue"][0]
    assert {"system": RULE_SYSTEM, "code": rule} in issue["details"]["coding"]
    french, sep, english = issue["diagnostics"].partition(" — ")
    assert sep and french and english, issue["diagnostics"]
    return french, english


async def search(client, auth, subject: str = LEFEVRE, **headers: str):  # type: ignore[no-untyped-def]
    return await client.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT_ID,
                                                                    "status": "current"},
                            headers=await auth(subject, **headers))


async def patch(client, auth, unique_id: str, body, subject: str):  # type: ignore[no-untyped-def]
    return await client.patch("/dmp/fhir/DocumentReference", params={"identifier": f"urn:ietf:rfc:3986|{unique_id}"},
                              content=json.dumps(body),
                              headers={**await auth(subject), "Content-Type": "application/json-patch+json"})


async def bernards_document(client, auth) -> dict:  # type: ignore[type-arg, no-untyped-def]
    """A seeded document filed by BERNARD (RPPS 10001000032), as FONTAINE finds it."""
    found = (await search(client, auth, FONTAINE)).json()
    return next(e["resource"] for e in found["entry"]
                if e["resource"]["contained"][0]["identifier"][0]["value"] == BERNARD)


async def test_author_only_names_the_author_and_the_caller(client, auth) -> None:  # type: ignore[no-untyped-def]
    doc = await bernards_document(client, auth)
    french, english = refusal(await patch(client, auth, doc["masterIdentifier"]["value"], MASK, FONTAINE),
                              403, "PDSm4DMP:TD3.3-author-only")
    assert "déposé par le professionnel RPPS 10001000032" in french and "seul son auteur" in french
    assert "RPPS 10001000016" in french and "TD3.3" in french
    assert "filed by professional RPPS 10001000032" in english and "only its author may mask" in english
    assert "RPPS 10001000016 is not its author" in english


async def test_no_authorisation(client, auth) -> None:  # type: ignore[no-untyped-def]
    french, english = refusal(await search(client, auth), 403, "DMP:authorisation-non-existe")
    assert "RPPS 10001000024 n'a pas d'autorisation d'accès à ce DMP (NON_EXISTE)" in french
    assert "RPPS 10001000024 has no access authorisation on this DMP (NON_EXISTE)" in english
    assert "bris_de_glace" in english and "feeding is still allowed" in english


async def test_expired_authorisation(client, auth) -> None:  # type: ignore[no-untyped-def]
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "EXPIRE"})
    french, english = refusal(await search(client, auth), 403, "DMP:authorisation-expire")
    assert "RPPS 10001000024" in french and "a expiré (EXPIRE)" in french
    assert "RPPS 10001000024 on this DMP has expired (EXPIRE)" in english


async def test_interdit_authorisation(client, auth) -> None:  # type: ignore[no-untyped-def]
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "INTERDIT"})
    french, english = refusal(await search(client, auth), 403, "DMP:blocked")
    assert "est INTERDIT" in french and "RPPS 10001000024" in french
    assert "RPPS 10001000024 on this DMP is INTERDIT" in english and "feeding and break-glass included" in english
    fed = await client.post("/dmp/fhir", content=json.dumps(provide_bundle(ZOE)),
                            headers={**await auth(LEFEVRE), "Content-Type": FHIR})
    refusal(fed, 403, "DMP:blocked")


async def test_blocked_professional(client, auth) -> None:  # type: ignore[no-untyped-def]
    await client.put(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/10001000016")
    french, english = refusal(await search(client, auth, FONTAINE), 403, "DMP:blocked")
    assert "Le patient a bloqué le professionnel RPPS 10001000016" in french
    assert "the patient has blocked professional RPPS 10001000016" in english


async def test_opt_outs(client, auth) -> None:  # type: ignore[no-untyped-def]
    await client.put(f"/sandbox/v1/dmps/{ZOE}/opt-outs", json={"bris_de_glace": True, "centre_15": True})
    glass = await search(client, auth, **{"X-DMP-Access-Mode": "bris_de_glace", "X-DMP-Access-Reason": "urgence"})
    french, english = refusal(glass, 403, "DMP:opt-out-bris-de-glace")
    assert "opposé à l'accès en bris de glace" in french
    assert "objected to break-glass access" in english and "RPPS 10001000024" in english
    french, english = refusal(await search(client, auth, **{"X-DMP-Access-Mode": "centre_15"}), 403,
                              "DMP:opt-out-centre-15")
    assert "centre 15" in french and "objected to emergency access by the regulation centre" in english


async def test_break_glass_without_reason(client, auth) -> None:  # type: ignore[no-untyped-def]
    french, english = refusal(await search(client, auth, **{"X-DMP-Access-Mode": "bris_de_glace"}), 400,
                              "DMP:bris-de-glace-reason")
    assert "motif" in french and "X-DMP-Access-Reason" in english


async def test_closed_dmp(client, auth) -> None:  # type: ignore[no-untyped-def]
    await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande"})
    french, english = refusal(await search(client, auth, FONTAINE), 422, "DMP:closed")
    assert "est fermé" in french and "consulter ce DMP" in french
    assert "is closed" in english and "consult this DMP" in english
    fed = await client.post("/dmp/fhir", content=json.dumps(provide_bundle(ZOE)),
                            headers={**await auth(FONTAINE), "Content-Type": FHIR})
    assert "feed this DMP" in refusal(fed, 422, "DMP:closed")[1]


async def test_a_masked_document_is_a_404_like_an_unknown_one(client, auth) -> None:  # type: ignore[no-untyped-def]
    doc = await bernards_document(client, auth)
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "VALIDE"})
    masked = await patch(client, auth, doc["masterIdentifier"]["value"], MASK, BERNARD)
    assert masked.status_code == 200, masked.text
    binary_id = doc["content"][0]["attachment"]["url"].rsplit("/", 1)[1]
    for path, known in (("/dmp/fhir/DocumentReference/{}", doc["id"]), ("/dmp/fhir/Binary/{}", binary_id)):
        unknown_id = "0" * 8 + known[8:]
        hidden = await client.get(path.format(known), headers=await auth(LEFEVRE))
        unknown = await client.get(path.format(unknown_id), headers=await auth(LEFEVRE))
        assert hidden.status_code == unknown.status_code == 404, path
        assert hidden.json()["issue"][0]["details"] == unknown.json()["issue"][0]["details"], path
        assert (hidden.json()["issue"][0]["diagnostics"].replace(known, "X")
                == unknown.json()["issue"][0]["diagnostics"].replace(unknown_id, "X")), path
    # PATCH by someone else: 404 as for an unknown document, never the author-only 403
    again = await patch(client, auth, doc["masterIdentifier"]["value"], MASK, LEFEVRE)
    assert again.status_code == 404
    assert {"system": RULE_SYSTEM, "code": "MHD:unknown"} in again.json()["issue"][0]["details"]["coding"]
    assert "10001000032" not in again.text


async def test_the_routers_errors_are_in_french_and_english(client, auth) -> None:  # type: ignore[no-untyped-def]
    headers = await auth(FONTAINE)
    base = {"patient.identifier": PATIENT_ID, "status": "current"}
    bad_date = await client.get("/dmp/fhir/DocumentReference", params={**base, "creation": "ge12-06"}, headers=headers)
    french, english = refusal(bad_date, 400, "FHIR:date")
    assert "n'est pas une date FHIR" in french and "is not a FHIR date" in english
    no_status = await client.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT_ID},
                                 headers=headers)
    french, english = refusal(no_status, 400, "MHD:ITI-67.status-required")
    assert "status est obligatoire" in french and "status is required" in english
    unknown = await client.get("/dmp/fhir/DocumentReference/nope", headers=headers)
    assert refusal(unknown, 404, "MHD:unknown") == ("aucun DocumentReference/nope", "no DocumentReference/nope")
    no_ins = await client.get("/dmp/fhir/Patient", headers=headers)
    french, english = refusal(no_ins, 400, "PDSm4DMP:TD02.identifier")
    assert "est obligatoire (TD02)" in french and "is required (TD02)" in english
    mode = await client.get("/dmp/fhir/DocumentReference", params=base,
                            headers={**headers, "X-DMP-Access-Mode": "urgence"})
    french, english = refusal(mode, 400, "DMP:access-mode")
    assert "doit valoir normal, bris_de_glace ou centre_15" in french and "must be one of" in english
    doc = await bernards_document(client, auth)
    stale = await client.patch(f"/dmp/fhir/DocumentReference/{doc['id']}", content=json.dumps(MASK),
                               headers={**await auth(BERNARD), "Content-Type": "application/json-patch+json",
                                        "If-Match": 'W/"7"'})
    french, english = refusal(stale, 412, "FHIR:If-Match")
    assert 'ne correspond pas à la version courante W/"1"' in french and 'current version W/"1"' in english
    unknown_ins = await client.post("/dmp/fhir", content=json.dumps(provide_bundle("199999999999999")),
                                    headers={**headers, "Content-Type": FHIR})
    french, english = refusal(unknown_ins, 404, "INS:unknown")
    assert "est inconnu du service INS" in french and "is unknown to the INS service" in english
