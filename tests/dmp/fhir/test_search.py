"""DMP instants and date searches with offsets, over HTTP, on both engines.

A document filed with ``date`` and ``context.period.start`` at ``+02:00`` comes back as the same instant,
written in UTC (``Z``, as an XDS registry keeps creationTime / serviceStartTime); ITI-67 ``creation``,
``period``, ``period-start`` and ITI-66 ``date`` compare instants, the search value's own offset
included (FHIR R4 search.html#date: the precision of the value gives its range). 10:00+02:00 is 08:00Z.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from tests.dmp.builders import provide_bundle, simplified_publish
from tests.dmp.conftest import FONTAINE, ZOE

FHIR = "application/fhir+json"
PATIENT_ID = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"


def _uid() -> str:
    return f"urn:oid:1.2.250.1.213.1.4.8.99999.{uuid.uuid4().int % 10**12}"


def _same_instant(a: str, b: str) -> bool:
    return datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(b.replace("Z", "+00:00"))


async def _publish(client, auth, *, date: str, start: str, end: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """ITI-105 a document with these times; its uniqueId."""
    uid = _uid()
    doc = simplified_publish(ZOE, unique_id=uid)
    doc["date"] = date
    doc["content"][0]["attachment"]["creation"] = date
    doc["context"]["period"] = {"start": start, **({"end": end} if end else {})}
    response = await client.post("/dmp/fhir/DocumentReference", content=json.dumps(doc),
                                 headers={**await auth(), "Content-Type": FHIR})
    assert response.status_code == 201, response.text
    return uid


async def _found(client, auth, uids: list[str], **params: str | list[str]) -> set[str]:  # type: ignore[no-untyped-def]
    """The uniqueIds, among ``uids``, that an ITI-67 search with ``params`` finds."""
    response = await client.get("/dmp/fhir/DocumentReference", params={
        "patient.identifier": PATIENT_ID, "status": "current", "identifier": ",".join(uids), **params},
        headers=await auth())
    assert response.status_code == 200, response.text
    return {e["resource"]["masterIdentifier"]["value"] for e in response.json().get("entry", [])
            if e["resource"]["resourceType"] == "DocumentReference"}


async def test_an_offset_comes_back_as_the_same_instant(client, auth) -> None:  # type: ignore[no-untyped-def]
    uid = await _publish(client, auth, date="2026-06-12T10:00:00+02:00", start="2026-06-12T09:30:00+02:00",
                         end="2026-06-12T11:15:30.250+02:00")
    response = await client.get("/dmp/fhir/DocumentReference", params={
        "patient.identifier": PATIENT_ID, "status": "current", "identifier": uid}, headers=await auth())
    doc = response.json()["entry"][0]["resource"]
    assert doc["date"] == "2026-06-12T08:00:00Z"
    assert doc["context"]["period"] == {"start": "2026-06-12T07:30:00Z", "end": "2026-06-12T09:15:30.250000Z"}
    assert _same_instant(doc["content"][0]["attachment"]["creation"], "2026-06-12T10:00:00+02:00")
    read = (await client.get(f"/dmp/fhir/DocumentReference/{doc['id']}", headers=await auth())).json()
    assert read["date"] == "2026-06-12T08:00:00Z" and read["context"]["period"]["start"] == "2026-06-12T07:30:00Z"


async def test_a_date_only_period_keeps_its_precision(client, auth) -> None:  # type: ignore[no-untyped-def]
    uid = await _publish(client, auth, date="2026-06-12T10:00:00+02:00", start="2026-06-12")
    response = await client.get("/dmp/fhir/DocumentReference", params={
        "patient.identifier": PATIENT_ID, "status": "current", "identifier": uid}, headers=await auth())
    assert response.json()["entry"][0]["resource"]["context"]["period"]["start"] == "2026-06-12"


async def test_creation_searches_compare_instants_at_the_boundaries(client, auth) -> None:  # type: ignore[no-untyped-def]
    ten_paris = await _publish(client, auth, date="2026-06-12T10:00:00+02:00", start="2026-06-12T09:30:00+02:00")
    late_ny = await _publish(client, auth, date="2026-06-11T20:30:00-04:00", start="2026-06-11T20:00:00-04:00")
    uids = [ten_paris, late_ny]  # 2026-06-12T08:00Z and 2026-06-12T00:30Z

    async def found(*values: str) -> set[str]:
        return await _found(client, auth, uids, creation=list(values))

    assert await found("gt2026-06-12T09:00:00Z") == set()
    assert await found("gt2026-06-12T07:59:59Z") == {ten_paris}
    assert await found("ge2026-06-12T08:00:00Z") == {ten_paris}
    assert await found("ge2026-06-12T10:00:00+02:00") == {ten_paris}
    assert await found("gt2026-06-12T10:00:00+02:00") == set()
    assert await found("lt2026-06-12T10:00:00+02:00") == {late_ny}
    assert await found("le2026-06-12T10:00:00+02:00") == {ten_paris, late_ny}
    assert await found("2026-06-12T08:00:00Z") == {ten_paris}
    assert await found("eq2026-06-12T10:00:00+02:00") == {ten_paris}
    assert await found("ne2026-06-12T10:00:00+02:00") == {late_ny}
    assert await found("2026-06-12T10:00:00Z") == set()  # the wall clock of the submission is not the instant
    # a day without a time is the UTC day: the New York evening of the 11th is the 12th in UTC
    assert await found("2026-06-12") == {ten_paris, late_ny}
    assert await found("2026-06-11") == set()
    assert await found("ge2026-06-12T02:30:00+02:00") == {ten_paris, late_ny}  # 00:30Z
    assert await found("gt2026-06-12T02:30:00+02:00") == {ten_paris}
    assert await found("sa2026-06-12T08:00:00Z") == set()
    assert await found("eb2026-06-12T08:00:00Z") == {late_ny}
    # "+" left unencoded in a query string arrives as a space: read as the offset it was
    raw = await client.get(f"/dmp/fhir/DocumentReference?patient.identifier={PATIENT_ID}&status=current"
                           f"&identifier={ten_paris},{late_ny}&creation=ge2026-06-12T10:00:00+02:00",
                           headers=await auth())
    assert raw.status_code == 200, raw.text
    assert {e["resource"]["masterIdentifier"]["value"] for e in raw.json().get("entry", [])} == {ten_paris}


async def test_period_searches_compare_instants(client, auth) -> None:  # type: ignore[no-untyped-def]
    morning = await _publish(client, auth, date="2026-06-12T12:00:00+02:00", start="2026-06-12T09:30:00+02:00",
                             end="2026-06-12T11:00:00+02:00")  # 07:30Z - 09:00Z
    uids = [morning]
    assert await _found(client, auth, uids, **{"period-start": "gt2026-06-12T08:00:00Z"}) == set()
    assert await _found(client, auth, uids, **{"period-start": "ge2026-06-12T09:30:00+02:00"}) == {morning}
    assert await _found(client, auth, uids, **{"period-start": "lt2026-06-12T07:30:01Z"}) == {morning}
    assert await _found(client, auth, uids, **{"period-end": "le2026-06-12T09:00:00Z"}) == {morning}
    assert await _found(client, auth, uids, **{"period-end": "lt2026-06-12T11:00:00+02:00"}) == set()
    assert await _found(client, auth, uids, period="ge2026-06-12T07:30:00Z") == {morning}
    # period is a range: ge/gt overlap from the value up, sa starts after it, eb ends before it
    assert await _found(client, auth, uids, period="ge2026-06-12T10:59:59+02:00") == {morning}
    assert await _found(client, auth, uids, period="ge2026-06-12T11:00:01+02:00") == set()
    assert await _found(client, auth, uids, period="gt2026-06-12T08:59:59Z") == {morning}
    assert await _found(client, auth, uids, period="le2026-06-12T09:30:00+02:00") == {morning}
    assert await _found(client, auth, uids, period="lt2026-06-12T09:30:00+02:00") == set()
    assert await _found(client, auth, uids, period="sa2026-06-12T07:29:59Z") == {morning}
    assert await _found(client, auth, uids, period="sa2026-06-12T07:30:00Z") == set()
    assert await _found(client, auth, uids, period="eb2026-06-12T09:00:01Z") == {morning}
    assert await _found(client, auth, uids, period="eb2026-06-12T11:00:00+02:00") == set()
    assert await _found(client, auth, uids, period="2026-06-12") == {morning}
    assert await _found(client, auth, uids, period="ne2026-06-12") == set()


async def test_an_iti65_submission_time_searches_by_instant(client, auth) -> None:  # type: ignore[no-untyped-def]
    """ITI-66 ``date`` on the submission set (``List.date``): same rule."""
    bundle = provide_bundle(ZOE)
    bundle["entry"][0]["resource"]["date"] = "2030-01-01T10:00:00+02:00"  # 08:00Z
    response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                 headers={**await auth(FONTAINE), "Content-Type": FHIR})
    assert response.status_code == 200, response.text

    async def lists(value: str) -> list[dict]:  # type: ignore[type-arg]
        found = await client.get("/dmp/fhir/List", params={"patient.identifier": PATIENT_ID, "date": value},
                                 headers=await auth())
        assert found.status_code == 200, found.text
        return [e["resource"] for e in found.json().get("entry", [])]

    assert await lists("gt2030-01-01T09:00:00Z") == []
    hits = await lists("ge2030-01-01T10:00:00+02:00")
    assert len(hits) == 1 and _same_instant(hits[0]["date"], "2030-01-01T08:00:00Z")


async def test_search_dates_and_offsets_out_of_range_are_400(client, auth):  # type: ignore[no-untyped-def]
    patient = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
    for value in ("ge9999", "le9999-12-31", "eq9999-12", "ge0001-01-01T00:00:00+14:00", "eq2026-13",
                  "eq2026-02-30", "eq2026-01-01T25:00:00Z"):
        response = await client.get("/dmp/fhir/DocumentReference", headers=await auth(),
                                    params={"patient.identifier": patient, "status": "current", "creation": value})
        assert response.status_code == 400, (value, response.text)
        assert "FHIR:date" in {c["code"] for c in response.json()["issue"][0]["details"]["coding"]}
    ok = await client.get("/dmp/fhir/DocumentReference", headers=await auth(),
                          params={"patient.identifier": patient, "status": "current", "creation": "le9998"})
    assert ok.status_code == 200
    for path in ("/dmp/fhir/DocumentReference", "/dmp/fhir/List", "/dmp/fhir/AuditEvent"):
        response = await client.get(path, headers=await auth(), params={
            "patient.identifier": patient, "status": "current", "_offset": "99999999999999999999999"})
        assert response.status_code == 400, (path, response.text)


async def test_paging_numbers_are_ascii_digits_only(client, auth):  # type: ignore[no-untyped-def]
    """``_count``/``_offset`` went through ``int()``, which takes ``"1_0"`` (10), ``" 5"`` or ``"١٢"`` (12):
    they are 400s now, with the OperationOutcome of any other invalid paging value."""
    patient = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
    for path in ("/dmp/fhir/DocumentReference", "/dmp/fhir/List", "/dmp/fhir/AuditEvent"):
        for name in ("_count", "_offset"):
            for value in ("1_0", " 5", "١٢", "5 ", "+5", "", "0x5"):
                response = await client.get(path, headers=await auth(), params={
                    "patient.identifier": patient, "status": "current", name: value})
                assert response.status_code == 400, (path, name, value, response.text)
                body = response.json()
                assert body["resourceType"] == "OperationOutcome"
                issue = body["issue"][0]
                assert issue["code"] == "invalid"
                assert issue["diagnostics"] == ("_count et _offset prennent des entiers — "
                                                "_count and _offset take integers")
                assert "FHIR:paging" in {c["code"] for c in issue["details"]["coding"]}
            negative = await client.get(path, headers=await auth(), params={
                "patient.identifier": patient, "status": "current", name: "-1"})
            assert negative.status_code == 400
            assert negative.json()["issue"][0]["diagnostics"] == ("_count et _offset doivent être positifs — "
                                                                   "_count and _offset must be positive")
            ok = await client.get(path, headers=await auth(), params={
                "patient.identifier": patient, "status": "current", name: "02"})
            assert ok.status_code == 200, (path, name, ok.text)
        huge = await client.get(path, headers=await auth(), params={
            "patient.identifier": patient, "status": "current", "_count": "9" * 30})
        assert huge.status_code == 200, huge.text  # capped at SEGUR_DMP_MAX_PAGE_SIZE, as before
    page = await client.get("/dmp/fhir/DocumentReference", headers=await auth(), params={
        "patient.identifier": patient, "status": "current", "_count": "02"})
    assert len(page.json()["entry"]) == 2
