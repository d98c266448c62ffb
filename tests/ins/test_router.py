"""The JSON face of INSi (``/insi/v1``, app/ins/router.py) over HTTP."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from fhir.resources.R4B.patient import Patient

from app.ins import individu, nir, searches
from app.ins.exceptions import InsiTechnicalFault, OidError, RnivError, TraitError
from app.ins.router import problem_of
from app.shared.identifiers import OID_INS_NIA, OID_INS_NIR

SCENARIOS = json.loads((resources.files("app.ins") / "fixtures" / "scenarios.json").read_text())["scenarios"]


@pytest.mark.parametrize("case", SCENARIOS, ids=[s["label"] for s in SCENARIOS])
async def test_every_fixture_scenario_over_json(client, case: dict) -> None:
    r = await client.post("/insi/v1/search-traits", json=case["RECSANSVITALE"])
    if case["CodeCR"].startswith("fault:"):
        assert r.status_code in (400, 503)
        body = r.json()
        if r.status_code == 503:
            assert (body["siram"], body["code"], body["rule"]) == ("siram_40", "insi_102", "INSi:simulated-fault")
        else:
            assert body["rule"] == "INSi:charset" and body["field"] == "NomNaissance"
            assert body["suggestion"] == "D'AEION"
        return
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["CR"]["CodeCR"] == case["CodeCR"]
    if case["CodeCR"] == "00":
        ins = body["INDIVIDU"]["INSACTIF"]["IdIndividu"]
        if case["INS"]:
            assert ins["NumIdentifiant"] + ins["Cle"] == case["INS"]
        Patient.model_validate(body["patient"])
        assert body["patient"]["identifier"][0]["value"] == ins["NumIdentifiant"] + ins["Cle"]
    else:
        assert "INDIVIDU" not in body and "patient" not in body


async def test_json_search_answer(client) -> None:
    r = await client.post("/insi/v1/search-traits", json={
        "NomNaissance": "ECETINSI", "Prenom": "PIERRE-ALAIN", "Sexe": "M", "DateNaissance": "2009-07-14"})
    body = r.json()
    assert body["CR"] == {"CodeCR": "00", "LibelleCR": "OK"}
    assert body["INDIVIDU"]["TIQ"]["ListePrenom"] == "PIERRE-ALAIN MURIEL FLORIANT"
    # the live answer's one history entry (padoa/tlsi-ins getPierreAlainLiveXmlResponse @12ef794)
    assert body["INDIVIDU"]["INSHISTO"] == [{
        "IdIndividu": {"NumIdentifiant": "2090763220834", "Cle": "39"}, "OID": "1.2.250.1.213.1.4.8",
        "DateDeb": "2019-03-01", "DateFin": "2019-02-28"}]
    rel = body["patient"]["extension"][0]["extension"]
    assert rel[0]["valueCoding"]["code"] == "RECUP"
    assert rel[1]["valueCoding"]["code"] == "INSI"


async def test_json_search_answer_bytes(app, client, settings) -> None:
    """The answer is compact UTF-8 as is (no \\u escapes: orjson on the fast path, FastAPI's JSONResponse on the
    plain one, app/ins/jsonbody.py), and exactly the INDIVIDU and FR Core Patient the reference builders make."""
    from app.db import utcnow
    from app.ins import fhir, traits

    r = await client.post("/insi/v1/search-traits", json={
        "NomNaissance": "ECETINSI", "Prenom": "PIERRE-ALAIN", "Sexe": "M", "DateNaissance": "2009-07-14"})
    assert r.headers["content-type"] == "application/json"
    assert "Identité récupérée".encode() in r.content and b"\\u00e9" not in r.content
    query = traits.check_query("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14")
    async with app.state.sessionmaker() as session:
        outcome = await searches.search_by_traits(session, query)

    def oid_of(rec):  # type: ignore[no-untyped-def]
        return nir.oid_for(rec.kind, settings.ins_oid_policy)

    assert json.loads(r.content) == {
        "CR": {"CodeCR": "00", "LibelleCR": "OK"},
        "INDIVIDU": individu.person_json(outcome.person, oid_of, with_prenom=settings.ins_tiq_prenom),
        "patient": fhir.patient(outcome.person, oid_of, status="RECUP", method="INSI",
                                status_system=settings.ins_status_system, date_insi=utcnow().date().isoformat()),
    }
    assert list(json.loads(r.content)) == ["CR", "INDIVIDU", "patient"]


@pytest.mark.parametrize(("payload", "field", "rule"), [
    ({"NomNaissance": "adrun", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"}, "NomNaissance",
     "INSi:charset"),
    ({"NomNaissance": "ADRUN", "Prenom": "ZOÉ", "Sexe": "F", "DateNaissance": "1975-12-31"}, "Prenom",
     "INSi:charset"),
    ({"NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "X", "DateNaissance": "1975-12-31"}, "Sexe", "INSi:Sexe"),
    ({"NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "31/12/1975"}, "DateNaissance",
     "INSi:DateLunaire"),
    ({"NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31",
      "LieuNaissance": "75001B"}, "LieuNaissance", "INSi:COG"),
])
async def test_json_errors_name_field_and_rule(client, payload: dict, field: str, rule: str) -> None:
    r = await client.post("/insi/v1/search-traits", json=payload)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["field"], body["rule"]) == (field, rule)


async def test_missing_field_is_a_problem(client) -> None:
    r = await client.post("/insi/v1/search-traits", json={"NomNaissance": "ADRUN"})
    assert r.status_code == 422 and "Prenom" in r.json()["detail"]


async def test_json_search_vitale(client) -> None:
    r = await client.post("/insi/v1/search-vitale", json={
        "MatriculeOD": {"NumIdentifiant": "2751263220749", "Cle": "74"}, "DateNaissance": "1975-12-31",
        "RangNaissance": "1"})
    assert r.json()["CR"]["CodeCR"] == "00"
    assert r.json()["patient"]["extension"][0]["extension"][1]["valueCoding"]["code"] == "CV"
    r = await client.post("/insi/v1/search-vitale", json={
        "MatriculeOD": {"NumIdentifiant": "2751263220749"}, "DateNaissance": "1975-12-30"})
    assert r.json()["CR"]["CodeCR"] == "01"


async def test_json_verify(client) -> None:
    traits = {"NomNaissance": "ECETINSI", "Prenom": "PIERRE-ALAIN", "Sexe": "M", "DateNaissance": "2009-07-14"}
    ok = await client.post("/insi/v1/verify", json={
        "INSFourni": {"IdIndividu": {"NumIdentifiant": "1090763220834", "Cle": "89"}, "OID": OID_INS_NIR},
        "TraitsIdentiteIndividu": traits})
    assert ok.json()["result"] == "OK" and ok.json()["provisional"] is True
    old = await client.post("/insi/v1/verify", json={
        "INSFourni": {"IdIndividu": {"NumIdentifiant": "2090763220834", "Cle": "39"}, "OID": OID_INS_NIR},
        "TraitsIdentiteIndividu": traits})
    assert old.json()["result"] == "KO"
    assert old.json()["INSACTIF"]["IdIndividu"]["NumIdentifiant"] == "1090763220834"
    bad_oid = await client.post("/insi/v1/verify", json={
        "INSFourni": {"IdIndividu": {"NumIdentifiant": "1090763220834", "Cle": "89"}, "OID": "1.2.250.1.213.1.4.5"},
        "TraitsIdentiteIndividu": traits})
    assert bad_oid.status_code == 400 and bad_oid.json()["field"] == "INSFourni.OID"


async def test_nir_tools(client) -> None:
    r = await client.get("/insi/v1/nir/297022A02077878")
    assert r.json()["valid"] and r.json()["place"]["kind"] == "corsica"
    r = await client.get("/insi/v1/nir/109076322088835", params={"oid": OID_INS_NIA})
    assert r.json()["kind"] == "NIA"
    r = await client.post("/insi/v1/nir/validate", json={"ins": "181036322045660"})
    assert r.status_code == 422 and r.json()["rule"] == "NIR:key" and r.json()["field"] == "ins"
    r = await client.post("/insi/v1/nir/validate", json={"ins": "275126322074974", "oid": "1.2.250.1.213.1.4.2"})
    assert r.status_code == 422 and r.json()["rule"] == "INS:oid-legacy" and r.json()["field"] == "oid"
    r = await client.post("/insi/v1/nir/validate", json={"ins": "275126322074974", "oid": OID_INS_NIR})
    assert r.status_code == 200
    for kind in ("corsica", "overseas", "abroad", "unknown_month", "metropolitan"):
        r = await client.get("/insi/v1/nir/generate", params={"kind": kind, "count": 5, "seed": 7})
        values = r.json()["values"]
        assert len(values) == 5 and all(v["explanation"]["valid"] for v in values)
    once = await client.get("/insi/v1/nir/generate", params={"kind": "abroad", "count": 5, "seed": 7})
    again = await client.get("/insi/v1/nir/generate", params={"kind": "abroad", "count": 5, "seed": 7})
    assert again.json() == once.json()  # same seed, same numbers


async def test_rniv_endpoint(client) -> None:
    r = await client.post("/insi/v1/rniv", json={"events": [
        {"type": "insi_ok", "DateNaissance": "1975-12-31"}, {"type": "document", "mode": "CN"}]})
    assert r.json()["status"] == "QUAL" and r.json()["shareable"] is True
    r = await client.post("/insi/v1/rniv", json={"events": [{"type": "insi_ok"}]})
    assert r.json()["status"] == "RECUP" and r.json()["shareable"] is False
    r = await client.post("/insi/v1/rniv", json={"events": [{"type": "document", "mode": "PERMIS"}]})
    assert r.status_code == 400 and r.json()["rule"] == "RNIV:document"
    r = await client.post("/insi/v1/rniv", json={"initial": {"attributes": ["DOUT"]}, "events": [{"type": "insi_ok"}]})
    assert r.json()["status"] == "PROV" and r.json()["steps"][0]["rule"] == "RNIV:EXI-SI-09"


async def test_injected_fault_over_json(client) -> None:
    r = await client.post("/insi/v1/search-traits", headers={"X-Segur-INS-Fault": "insi_102"}, json={
        "NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"})
    assert r.status_code == 503 and r.json()["code"] == "insi_102"


async def test_malformed_json_body(client) -> None:
    r = await client.post("/insi/v1/search-traits", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    r = await client.post("/insi/v1/search-traits", json={"NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F",
                                                          "DateNaissance": "1975-12-31", "Extra": 1})
    assert r.status_code == 422 and "Extra" in r.json()["detail"]


async def test_openapi_documents_the_search_body(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/insi/v1/search-traits"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) >= {"NomNaissance", "Prenom", "Sexe", "DateNaissance"}


@pytest.mark.parametrize("events", [
    [{"type": "document", "mode": ["CN"]}], [{"type": "insi_ok", "DateNaissance": 19750101}],
    [{"type": "attribute_add", "attribute": {"x": 1}}], [{"nothing": True}],
])
async def test_rniv_odd_events_are_400_not_500(client, events: list) -> None:
    r = await client.post("/insi/v1/rniv", json={"events": events})
    assert r.status_code in (200, 400)


def test_problem_of_maps_each_domain_error() -> None:
    """problem_of, the JSON face's one mapper: the statuses, titles, rules and fields of the facade."""
    technical = problem_of(InsiTechnicalFault("INSi:simulated-fault"))
    assert (technical.status, technical.title, technical.rule) == (503, "INSi technical error", "INSi:simulated-fault")
    assert technical.extra == {"siram": "siram_40", "code": "insi_102", "severite": "fatal"}
    trait = problem_of(TraitError("NomNaissance", "INSi:charset", "outside INSi's set", "ADRUN"))
    assert (trait.status, trait.title, trait.rule, trait.extra) == (
        400, "Invalid identity trait", "INSi:charset", {"field": "NomNaissance", "suggestion": "ADRUN"})
    oid = OidError("1.2.3", "not an INS OID")
    oid.field = "INSFourni.OID"
    assert (problem_of(oid).status, problem_of(oid).title, problem_of(oid).extra) == (
        400, "Invalid OID", {"field": "INSFourni.OID"})
    event = problem_of(RnivError("0.mode", "RNIV:document", "unknown document"))
    assert (event.status, event.title, event.extra) == (400, "Invalid RNIV event", {"field": "events.0.mode"})
