"""The DMP in two tenants at once (issue 15): two pipelines, each in its own world at ``/t/{tenant}``, seeded with
the same fixtures, run the same flows interleaved — over FHIR (ITI-65/67/68, the DMP's state, traces) and over
XDS.b SOAP (ITI-41/18/43) — with the same natural keys (masterIdentifier/uniqueId, entryUUIDs, INS), and each
sees only its own rows; a credential or a document of one is unknown to the other; a tenant's reset and
deletion leave the other (and the default tenant) as they were.

Every client here is the one the existing DMP tests use, pointed at a tenant's base URL (``/t/{tenant}``): the
only change a vendor makes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import func, select

from app.dmp.models import (
    DmpAuditEvent,
    DmpAuthorisation,
    DmpBinary,
    DmpBinaryChunk,
    DmpDocument,
    DmpRecord,
    DmpSubmissionSet,
)
from app.dmp.soap import namespaces as ns
from app.tenancy import use_tenant
from tests.conftest import BASE_URL
from tests.dmp.builders import provide_bundle
from tests.dmp.conftest import DOMINIQUE, FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.client import get_vihf, post_soap
from tests.dmp.soap.ebrim_builders import Doc, provide_and_register
from tests.dmp.soap.test_iti18 import find_documents, objects, query, unique_id
from tests.dmp.soap.test_iti43 import REPOSITORY, documents, error_list, retrieve, retrieve_request, status
from tests.dmp.soap.test_td import NEW_INS, NEW_PERSON
from tests.psc.helpers import access_token_for

FHIR = "application/fhir+json"
PATIENT = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
DMP_MODELS = (DmpRecord, DmpAuthorisation, DmpSubmissionSet, DmpBinary, DmpBinaryChunk, DmpDocument, DmpAuditEvent)


@dataclass
class World:
    """One tenant as a pipeline sees it: its name and an HTTP client whose base URL is the tenant's."""

    name: str
    http: httpx.AsyncClient
    tokens: dict[str, str]

    @property
    def base(self) -> str:
        return f"{BASE_URL}/t/{self.name}"

    async def auth(self, subject: str = FONTAINE, **extra: str) -> dict[str, str]:
        if subject not in self.tokens:
            self.tokens[subject] = await access_token_for(self.http, subject)  # the tenant's own PSC
        return {"Authorization": f"Bearer {self.tokens[subject]}", "Accept": FHIR, **extra}

    async def file(self, bundle: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/dmp/fhir", content=json.dumps(bundle),
                                    headers={**await self.auth(), "Content-Type": FHIR})

    async def search(self, **params: str) -> dict[str, dict[str, Any]]:
        """ITI-67: masterIdentifier -> DocumentReference, every status."""
        found = await self.http.get("/dmp/fhir/DocumentReference", headers=await self.auth(), params={
            "patient.identifier": PATIENT, "status": "current,superseded", **params})
        assert found.status_code == 200, found.text
        return {e["resource"]["masterIdentifier"]["value"]: e for e in found.json().get("entry") or []}

    async def traces(self) -> list[dict[str, Any]]:
        found = await self.http.get("/dmp/fhir/AuditEvent", params={"patient.identifier": PATIENT},
                                    headers=await self.auth())
        assert found.status_code == 200, found.text
        return [e["resource"] for e in found.json().get("entry") or []]

    async def dmp_active(self, ins: str = ZOE) -> bool:
        found = await self.http.get("/dmp/fhir/Patient", params={"identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ins}"},
                                    headers=await self.auth())
        assert found.status_code == 200 and found.json()["total"] == 1, found.text
        return bool(found.json()["entry"][0]["resource"]["active"])


@pytest.fixture
async def worlds(app, client) -> AsyncIterator[tuple[World, World]]:  # type: ignore[no-untyped-def]
    """Two tenants seeded with the fixtures (deleted after the test)."""
    tag = uuid.uuid4().hex[:6]
    names = (f"dmp-a-{tag}", f"dmp-b-{tag}")
    opened = []
    try:
        for name in names:
            created = await client.post("/sandbox/v1/tenants", json={"name": name, "seed": "fixtures"})
            assert created.status_code == 201, created.text
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"{BASE_URL}/t/{name}")
            opened.append(World(name, http, {}))
        yield opened[0], opened[1]
    finally:
        for world in opened:
            await world.http.aclose()
        for name in names:
            await client.delete(f"/sandbox/v1/tenants/{name}")


async def rows_in(app, tenant: str, model: Any) -> int:  # type: ignore[no-untyped-def]
    with use_tenant(tenant):
        async with app.state.sessionmaker() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar_one()


def location_id(response: httpx.Response, kind: str) -> str:
    entry = next(e for e in response.json()["entry"] if f"/{kind}/" in e["response"]["location"])
    return entry["response"]["location"].split(f"/{kind}/")[1].split("/")[0]


# --- FHIR -------------------------------------------------------------------------------------------------

async def test_the_same_iti65_bundle_is_filed_in_both_and_each_reads_only_its_own(worlds):  # type: ignore[no-untyped-def]
    a, b = worlds
    bundle = provide_bundle(ZOE)  # the same masterIdentifier (uniqueId) and submission set identifier in both
    uid = bundle["entry"][1]["resource"]["masterIdentifier"]["value"]
    only_b = provide_bundle(ZOE)
    filed_a = await a.file(bundle)
    assert filed_a.status_code == 200, filed_a.text
    filed_b = await b.file(bundle)  # a duplicate within one tenant, a first submission in the other
    assert filed_b.status_code == 200, filed_b.text
    again = await a.file(bundle)
    assert again.status_code == 409 and "XDS:uniqueId-unique" in again.text, again.text
    assert (await b.file(only_b)).status_code == 200
    # every URL a tenant answers stays in the tenant
    for world, filed in ((a, filed_a), (b, filed_b)):
        assert all(e["response"]["location"].startswith(f"{world.base}/dmp/fhir/") for e in filed.json()["entry"])
    # ITI-67: each lists its own
    seen_a, seen_b = await a.search(), await b.search()
    assert uid in seen_a and uid in seen_b
    assert only_b["entry"][1]["resource"]["masterIdentifier"]["value"] in seen_b
    assert only_b["entry"][1]["resource"]["masterIdentifier"]["value"] not in seen_a
    assert seen_a[uid]["fullUrl"].startswith(f"{a.base}/dmp/fhir/DocumentReference/")
    assert seen_a[uid]["resource"]["id"] == location_id(filed_a, "DocumentReference")
    assert seen_b[uid]["resource"]["id"] == location_id(filed_b, "DocumentReference")
    assert seen_a[uid]["resource"]["id"] != seen_b[uid]["resource"]["id"]
    # ITI-68: A's document through A, and the same URL through B is unknown
    url_a = seen_a[uid]["resource"]["content"][0]["attachment"]["url"]
    assert url_a.startswith(f"{a.base}/dmp/fhir/Binary/")
    read = await a.http.get(url_a, headers={**await a.auth(), "Accept": "application/pdf"})
    assert read.status_code == 200 and read.content.startswith(b"%PDF")
    path = url_a.removeprefix(a.base)
    crossed = await b.http.get(path, headers=await b.auth())
    assert crossed.status_code == 404 and crossed.json()["resourceType"] == "OperationOutcome", crossed.text
    doc_a = seen_a[uid]["resource"]["id"]
    assert (await b.http.get(f"/dmp/fhir/DocumentReference/{doc_a}", headers=await b.auth())).status_code == 404
    assert (await a.http.get(f"/dmp/fhir/DocumentReference/{doc_a}", headers=await a.auth())).status_code == 200


async def test_a_token_of_one_tenant_is_refused_in_the_other(worlds):  # type: ignore[no-untyped-def]
    """The PSC issuer is per tenant (``/t/{tenant}/auth/realms/esante-wallet``): A's token is no token in B."""
    a, b = worlds
    stolen = {**await a.auth(), "Accept": FHIR}
    answer = await b.http.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT,
                                                                     "status": "current"}, headers=stolen)
    assert answer.status_code == 401, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert (await a.http.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT,
                                                                    "status": "current"}, headers=stolen)
            ).status_code == 200


async def test_traces_of_one_tenant_are_not_in_the_other(worlds):  # type: ignore[no-untyped-def]
    a, b = worlds
    before = {e["id"] for e in await b.traces()}
    filed = await a.file(provide_bundle(ZOE))
    doc_a = location_id(filed, "DocumentReference")
    await a.search()
    traced_a = await a.traces()
    assert any(doc_a in json.dumps(e) for e in traced_a)  # ITI-65 of A, traced in A
    traced_b = await b.traces()
    assert not any(doc_a in json.dumps(e) for e in traced_b)
    # B's own searches (two: before, and the one listing its traces) add B's traces, none of A's
    assert {e["id"] for e in traced_b} >= before
    assert not {e["id"] for e in traced_b} & {e["id"] for e in traced_a}


async def test_a_dmp_closed_or_created_in_one_tenant_is_untouched_in_the_other(worlds):  # type: ignore[no-untyped-def]
    a, b = worlds
    closed = await a.http.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande",
                                                                        "raisonFermeture": "à sa demande"})
    assert closed.status_code == 200 and closed.json()["active"] is False
    assert await a.dmp_active() is False
    assert await b.dmp_active() is True
    refused = await a.file(provide_bundle(ZOE))
    assert refused.status_code == 422 and "DMP:closed" in refused.text
    assert (await b.file(provide_bundle(ZOE))).status_code == 200
    # a DMP created in A for a new INS (the same INS then created in B: the natural key is per tenant)
    assert (await a.http.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    assert (await a.http.post("/sandbox/v1/dmps", json={"ins": NEW_INS})).status_code == 201
    assert (await b.http.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404
    assert (await b.http.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    assert (await b.http.post("/sandbox/v1/dmps", json={"ins": NEW_INS})).status_code == 201
    assert (await a.http.post("/sandbox/v1/dmps", json={"ins": NEW_INS})).status_code == 409
    assert (await a.http.get(f"/sandbox/v1/dmps/{ZOE}")).json()["active"] is False
    assert (await b.http.get(f"/sandbox/v1/dmps/{ZOE}")).json()["active"] is True


# --- XDS.b SOAP -------------------------------------------------------------------------------------------

async def _vihf(world: World) -> str:
    return await get_vihf(world.http, subject_name_id=FONTAINE, patient_ins=ZOE, patient_oid="1.2.250.1.213.1.4.8")


async def test_the_same_iti41_in_both_and_xds_queries_and_retrieves_stay_in_their_tenant(worlds):  # type: ignore[no-untyped-def]
    a, b = worlds
    shared = Doc(data=b"%PDF-1.4 both tenants")
    ss_uuid = f"urn:uuid:{uuid.uuid4()}"
    payload = provide_and_register(shared).replace("SubmissionSet01", ss_uuid)  # client entryUUIDs, kept
    only_a = Doc(data=b"%PDF-1.4 tenant A only")
    vihf_a, vihf_b = await _vihf(a), await _vihf(b)
    for world, vihf in ((a, vihf_a), (b, vihf_b)):  # same entryUUIDs, uniqueIds: accepted in each
        answer = await post_soap(world.http, "repository", ns.ACTION_ITI41, payload, vihf=vihf)
        assert answer.status == 200 and answer.payload.get("status") == ns.STATUS_SUCCESS, \
            etree.tostring(answer.payload)
    again = await post_soap(a.http, "repository", ns.ACTION_ITI41, payload, vihf=vihf_a)
    assert again.payload.get("status") == ns.STATUS_FAILURE  # within one tenant, a duplicate
    assert (await post_soap(a.http, "repository", ns.ACTION_ITI41, provide_and_register(only_a), vihf=vihf_a)
            ).payload.get("status") == ns.STATUS_SUCCESS
    # ITI-18 FindDocuments
    found_a = {unique_id(e): e.get("id") for e in objects(await query(a.http, find_documents()))}
    found_b = {unique_id(e): e.get("id") for e in objects(await query(b.http, find_documents()))}
    assert found_a[shared.unique_id] == found_b[shared.unique_id] == shared.id
    assert only_a.unique_id in found_a and only_a.unique_id not in found_b
    # ITI-18 GetSubmissionSets by the shared entryUUID: one in each tenant, its own
    from tests.dmp.soap.test_storedquery import request
    for world in (a, b):
        packages = objects(await query(world.http, request(ns.QUERY_GET_SUBMISSION_SETS,
                                                           [("$uuid", [f"('{shared.id}')"])])), "RegistryPackage")
        assert [p.get("id") for p in packages] == [ss_uuid]
    # ITI-43: A's document through A, not through B
    got = await retrieve(a.http, retrieve_request((REPOSITORY, only_a.unique_id)))
    assert status(got) == ns.STATUS_SUCCESS and documents(got) == {only_a.unique_id: only_a.data}
    crossed = await retrieve(b.http, retrieve_request((REPOSITORY, only_a.unique_id)))
    assert status(crossed) == ns.STATUS_FAILURE
    assert error_list(crossed) == [("XDSDocumentUniqueIdError", only_a.unique_id)]
    both = await retrieve(b.http, retrieve_request((REPOSITORY, shared.unique_id)))
    assert documents(both) == {shared.unique_id: shared.data}


async def test_the_wsdl_of_a_tenant_points_at_the_tenant(worlds):  # type: ignore[no-untyped-def]
    a, _ = worlds
    wsdl = await a.http.get("/si-dmp-server/v2/services/repository", params={"wsdl": ""})
    assert wsdl.status_code == 200
    locations = etree.fromstring(wsdl.content).xpath("//*[local-name()='address']/@location")
    assert locations and all(loc == f"{a.base}/si-dmp-server/v2/services/repository" for loc in locations)


# --- reset and deletion -----------------------------------------------------------------------------------

async def test_a_tenants_reset_leaves_the_other_and_the_default(app, worlds, client, auth):  # type: ignore[no-untyped-def]
    a, b = worlds
    bundle = provide_bundle(ZOE)
    uid = bundle["entry"][1]["resource"]["masterIdentifier"]["value"]
    for world in (a, b):
        assert (await world.file(bundle)).status_code == 200
    in_default = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                   headers={**await auth(), "Content-Type": FHIR})
    assert in_default.status_code == 200
    closed = await b.http.post(f"/sandbox/v1/dmps/{DOMINIQUE}/close", json={"motifFermeture": "patient-demande"})
    assert closed.status_code == 200, closed.text
    reset = await a.http.post("/sandbox/v1/reset")
    assert reset.status_code == 200, reset.text
    a.tokens.clear()  # the reset forgot A's tokens too
    assert uid not in await a.search()
    assert uid in await b.search()
    assert (await b.http.get(f"/sandbox/v1/dmps/{DOMINIQUE}")).json()["active"] is False
    assert await a.dmp_active() is True  # A is back to its fixtures: the seeded documents, an open DMP
    assert await rows_in(app, a.name, DmpDocument) > 0
    default = await client.get("/dmp/fhir/DocumentReference", headers=await auth(),
                               params={"patient.identifier": PATIENT, "status": "current"})
    assert uid in {e["resource"]["masterIdentifier"]["value"] for e in default.json()["entry"]}


async def test_deleting_a_tenant_removes_its_dmp_rows_and_leaves_the_other(app, worlds):  # type: ignore[no-untyped-def]
    a, b = worlds
    bundle = provide_bundle(ZOE)
    uid = bundle["entry"][1]["resource"]["masterIdentifier"]["value"]
    for world in (a, b):
        assert (await world.file(bundle)).status_code == 200
    assert (await a.http.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/{LEFEVRE[1:]}",
                             json={"status": "VALIDE"})).status_code == 200
    kept = {model.__tablename__: await rows_in(app, b.name, model) for model in DMP_MODELS}
    assert all(kept.values()), kept
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as control:
        deleted = await control.delete(f"/sandbox/v1/tenants/{a.name}")
    assert deleted.status_code == 200, deleted.text
    for model in DMP_MODELS:
        assert await rows_in(app, a.name, model) == 0, model.__tablename__
    assert {model.__tablename__: await rows_in(app, b.name, model) for model in DMP_MODELS} == kept
    assert uid in await b.search()
    gone = await a.http.get("/dmp/fhir/metadata")
    assert gone.status_code == 404
