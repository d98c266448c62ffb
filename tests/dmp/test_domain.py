"""What the DMP plugs into the platform (app/dmp/domain.py): every FHIR route but the CapabilityStatement behind
the PSC bearer check, an explicit and stable operation id on every route, domain errors mapped per face."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.dmp.domain import DOMAIN
from app.dmp.exceptions import DmpError

OPERATION_IDS = {
    ("GET", "/dmp/fhir/metadata"): "dmp_metadata",
    ("GET", "/dmp/fhir/Patient"): "dmp_patient_search",
    ("GET", "/dmp/fhir/Patient/{ins}"): "dmp_patient_read",
    ("POST", "/dmp/fhir"): "dmp_provide_bundle",
    ("POST", "/dmp/fhir/DocumentReference"): "dmp_simplified_publish",
    ("GET", "/dmp/fhir/DocumentReference"): "dmp_find_documents",
    ("POST", "/dmp/fhir/DocumentReference/_search"): "dmp_find_documents_post",
    ("GET", "/dmp/fhir/DocumentReference/{doc_id}"): "dmp_read_document",
    ("GET", "/dmp/fhir/Binary/{binary_id}"): "dmp_retrieve_document",
    ("PATCH", "/dmp/fhir/DocumentReference"): "dmp_patch_conditional",
    ("PATCH", "/dmp/fhir/DocumentReference/{doc_id}"): "dmp_patch_by_id",
    ("GET", "/dmp/fhir/List"): "dmp_find_lists",
    ("GET", "/dmp/fhir/List/{list_id}"): "dmp_read_list",
    ("GET", "/dmp/fhir/AuditEvent"): "dmp_audit_events",
    ("GET", "/sandbox/v1/dmps"): "dmp_list_dmps",
    ("POST", "/sandbox/v1/dmps"): "dmp_create_dmp",
    ("GET", "/sandbox/v1/dmps/{ins}"): "dmp_get_dmp",
    ("POST", "/sandbox/v1/dmps/{ins}/close"): "dmp_close_dmp",
    ("POST", "/sandbox/v1/dmps/{ins}/reopen"): "dmp_reopen_dmp",
    ("PUT", "/sandbox/v1/dmps/{ins}/authorisations/{rpps}"): "dmp_set_authorisation",
    ("PUT", "/sandbox/v1/dmps/{ins}/opt-outs"): "dmp_set_opt_outs",
    ("PUT", "/sandbox/v1/dmps/{ins}/blocked-professionals/{rpps}"): "dmp_block",
    ("DELETE", "/sandbox/v1/dmps/{ins}/blocked-professionals/{rpps}"): "dmp_unblock",
    ("GET", "/sandbox/v1/dmps/{ins}/documents"): "dmp_patient_view",
    ("POST", "/sandbox/v1/dmps/vihf"): "dmp_issue_vihf",
    ("POST", "/sandbox/v1/dmps/vihf-certificates"): "dmp_issue_vihf_certificate",
    # the XDS.b SOAP face (issue 11): public routes, authenticated by the VIHF
    ("POST", "/si-dmp-server/v2/services/registry"): "dmp_soap_registry",
    ("POST", "/si-dmp-server/v2/services/repository"): "dmp_soap_repository",
    ("POST", "/si-dmp-server/v2/services/patients"): "dmp_soap_patients",
    ("GET", "/si-dmp-server/v2/services/{service}"): "dmp_soap_wsdl",
    ("POST", "/si-dmp-server/v2/services/{service}"): "dmp_soap_unknown_service",
}


def _routes(routers) -> list[APIRoute]:  # type: ignore[no-untyped-def]
    return [route for router in routers for route in router.routes if isinstance(route, APIRoute)]


def test_every_fhir_route_but_the_capability_statement_is_protected():
    open_fhir = [r.path for r in _routes(DOMAIN.routers) if r.path.startswith("/dmp/fhir")]
    assert open_fhir == ["/dmp/fhir/metadata"]
    assert all(r.path.startswith("/dmp/fhir") for r in _routes(DOMAIN.protected_routers))


def test_every_route_has_an_explicit_stable_operation_id_and_a_summary():
    routes = _routes([*DOMAIN.routers, *DOMAIN.protected_routers])
    found = {(method, r.path): r.operation_id for r in routes for method in r.methods}
    assert found == OPERATION_IDS
    assert all(r.summary for r in routes)


def test_domain_errors_have_one_handler():
    assert set(DOMAIN.exception_handlers) == {DmpError}


async def test_a_domain_error_speaks_the_shape_of_its_face(client, auth):  # type: ignore[no-untyped-def]
    control = await client.get("/sandbox/v1/dmps/199999999999999")
    assert control.status_code == 404 and control.headers["content-type"] == "application/problem+json"
    assert control.json()["rule"] == "DMP:exists" and control.json()["detail"] == "no DMP for INS 199999999999999"
    fhir = await client.get("/dmp/fhir/DocumentReference", headers=await auth(), params={
        "patient.identifier": "urn:oid:1.2.250.1.213.1.4.8|199999999999999", "status": "current"})
    assert fhir.status_code == 404 and fhir.headers["content-type"].startswith("application/fhir+json")
    issue = fhir.json()["issue"][0]
    assert issue["code"] == "not-found" and {c["code"] for c in issue["details"]["coding"]} == {
        "XDSUnknownPatientId", "DMP:exists"}
