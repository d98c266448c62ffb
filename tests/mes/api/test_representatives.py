"""A legal representative acts for the minor they represent, and for no one else; a document the minor hides
from their representatives (INVISIBLE_REPRESENTANTS_LEGAUX) is not shown to them."""

from __future__ import annotations

from tests.mes.helpers import CHLOE, FONTAINE, ISABELLE, JULES, LEA, THOMAS, ZOE, auth, file_document, iti67_ids


async def test_the_representative_acts_for_the_minor_only(client) -> None:
    headers = await auth(client, THOMAS)
    listed = await client.get(f"/mes/api/v1/patients/{LEA}/documents", headers=headers)
    assert listed.status_code == 200 and len(listed.json()) == 5
    profile = await client.get(f"/mes/api/v1/patients/{LEA}", headers=headers)
    assert profile.json()["acting_as_representative"] is True
    for other in (ZOE, JULES):
        assert (await client.get(f"/mes/api/v1/patients/{other}/documents", headers=headers)).status_code == 404
    # the minor does not act for the representative
    lea = await auth(client, LEA)
    assert (await client.get(f"/mes/api/v1/patients/{THOMAS}", headers=lea)).status_code == 404


async def test_representation_ends_at_majority(client) -> None:
    headers = await auth(client, ISABELLE)
    me = await client.get("/mes/api/v1/me", headers=headers)
    assert [p["ins"] for p in me.json()["represented"]] == [JULES]  # CHLOE is 18 since 2026-10-10
    assert (await client.get(f"/mes/api/v1/patients/{CHLOE}/documents", headers=headers)).status_code == 404


async def test_a_document_hidden_from_representatives(client) -> None:
    doc_id = await file_document(client, ins=LEA)
    lea, thomas = await auth(client, LEA), await auth(client, THOMAS)
    path = f"/mes/api/v1/patients/{LEA}/documents/{doc_id}"
    # the representative may not hide it
    refused = await client.put(f"{path}/hidden-from-representatives", json={"hidden": True}, headers=thomas)
    assert refused.status_code == 403 and refused.json()["rule"] == "MES:hide-minor-only"
    hidden = await client.put(f"{path}/hidden-from-representatives", json={"hidden": True}, headers=lea)
    assert hidden.status_code == 200 and hidden.json()["hidden_from_representatives"] is True
    assert (await client.get(path, headers=thomas)).status_code == 404
    assert doc_id not in {d["id"] for d in (await client.get(f"/mes/api/v1/patients/{LEA}/documents",
                                                               headers=thomas)).json()}
    assert (await client.get(path, headers=lea)).status_code == 200
    assert doc_id in await iti67_ids(client, FONTAINE, LEA)  # professionals are not concerned
    # a representative cannot act on what they cannot see
    assert (await client.put(f"{path}/masked", json={"masked": True}, headers=thomas)).status_code == 404
    assert (await client.delete(path, headers=thomas)).status_code == 404
    shown = await client.put(f"{path}/hidden-from-representatives", json={"hidden": False}, headers=lea)
    assert shown.status_code == 200
    assert (await client.get(path, headers=thomas)).status_code == 200


async def test_an_adult_has_no_representatives_to_hide_from(client) -> None:
    headers = await auth(client, ZOE)
    doc_id = (await client.get(f"/mes/api/v1/patients/{ZOE}/documents", headers=headers)).json()[0]["id"]
    response = await client.put(f"/mes/api/v1/patients/{ZOE}/documents/{doc_id}/hidden-from-representatives",
                                json={"hidden": True}, headers=headers)
    assert response.status_code == 422
