"""ITI-65 replacement (relatesTo) of a document the caller may not see (review of issue 11, finding 3): a
document masked from the caller (MASQUE_PS, not its author) or deleted is answered as an unknown relatesTo
target, word for word; replacement stays open to any professional who may feed (app/dmp/rules.py)."""

from __future__ import annotations

import json

from tests.dmp.builders import TRE_A07, pdf_bytes, provide_bundle
from tests.dmp.conftest import BERNARD, FONTAINE, ZOE

FHIR = "application/fhir+json"
MASK = [{"op": "replace", "path": "/securityLabel/0", "value": {"coding": [{"system": TRE_A07, "code": "MASQUE_PS"}]}}]
DELETE = [{"op": "replace", "path": "/status", "value": "entered-in-error"}]


async def post_bundle(client, auth, bundle, subject=FONTAINE):  # type: ignore[no-untyped-def]
    return await client.post("/dmp/fhir", content=json.dumps(bundle),
                             headers={**await auth(subject), "Content-Type": FHIR})


async def filed(client, auth, label: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    bundle = provide_bundle(ZOE, data=pdf_bytes(label))
    response = await post_bundle(client, auth, bundle)
    assert response.status_code == 200, response.text
    doc_id = response.json()["entry"][1]["response"]["location"].rsplit("/", 1)[1]
    return doc_id, bundle["entry"][1]["resource"]["masterIdentifier"]["value"]


async def patch(client, auth, unique_id: str, body) -> None:  # type: ignore[no-untyped-def]
    response = await client.patch("/dmp/fhir/DocumentReference",
                                  params={"identifier": f"urn:ietf:rfc:3986|{unique_id}"}, content=json.dumps(body),
                                  headers={**await auth(), "Content-Type": "application/json-patch+json"})
    assert response.status_code == 200, response.text


async def answer(client, auth, target: str, subject: str, unknown: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Status and OperationOutcome of a replacement of ``target``, its id written as ``unknown``."""
    response = await post_bundle(client, auth, provide_bundle(ZOE, replaces=target), subject=subject)
    return response.status_code, response.text.replace(target, unknown)


async def test_a_masked_or_deleted_target_is_unknown_word_for_word(client, auth):  # type: ignore[no-untyped-def]
    unknown = "0b9e6a43-0000-4000-8000-00000000000d"
    expected = await answer(client, auth, unknown, BERNARD, unknown)
    assert expected[0] == 404
    masked_id, masked_uid = await filed(client, auth, "CR masqué")
    await patch(client, auth, masked_uid, MASK)
    assert await answer(client, auth, masked_id, BERNARD, unknown) == expected
    deleted_id, deleted_uid = await filed(client, auth, "CR supprimé")
    await patch(client, auth, deleted_uid, DELETE)
    for subject in (BERNARD, FONTAINE):
        assert await answer(client, auth, deleted_id, subject, unknown) == expected
    # the author of the masked document still replaces it
    by_author = await post_bundle(client, auth, provide_bundle(ZOE, replaces=masked_id))
    assert by_author.status_code == 200, by_author.text
