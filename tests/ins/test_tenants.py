"""INSi in tenants (issue 15): each tenant at ``/t/{tenant}`` is a national base of its own.

Driven as a vendor drives it: zeep loads ``/t/{tenant}/lps?wsdl`` and calls the address that WSDL gives (so a
WSDL pointing at another tenant, or at the default one, would send the call to the wrong base), httpx the JSON
facade and the control API. Two tenants created with ``seed: fixtures``; the flows of both run interleaved.
On the ``fast`` PostgreSQL leg the searches by traits take the asyncpg fast path (which bypasses the session's
tenant criteria and the engine's guard), on the others the session: both are held to the same isolation.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from zeep import Client
from zeep.exceptions import Fault
from zeep.wsa import WsAddressingPlugin

from app.ins import nir
from app.ins.models import InsCard, InsIdam, InsMatricule, InsPerson
from app.ins.soap.client import build_request, recsansvitale_xml
from app.shared.identifiers import OID_INS_NIR
from app.tenancy import DEFAULT_TENANT, use_tenant
from tests.conftest import BASE_URL
from tests.ins.soap.test_endpoint import AsgiTransport

NUMBER = "1900175056123"
KEY = nir.compute_key(NUMBER)
INS = NUMBER + KEY
SERIAL = "VITALE-TENANT-0001"


def person(nom: str, prenoms: str, date: str) -> dict:
    """A person with the active INS :data:`INS` (the same NIR in every tenant) and the traits given."""
    return {"NomNaissance": nom, "ListePrenom": prenoms, "Sexe": "M", "DateNaissance": date, "LieuNaissance": "75056",
            "INSACTIF": {"IdIndividu": {"NumIdentifiant": NUMBER, "Cle": KEY}, "OID": OID_INS_NIR}}


def card(nom: str, date: str) -> dict:
    """The Carte Vitale :data:`SERIAL` of :data:`INS` (the same serial in every tenant)."""
    return {"NumeroSerie": SERIAL, "MatriculeOD": {"NumIdentifiant": NUMBER, "Cle": KEY},
            "BENEFICIAIRES": [{"NomNaissance": nom, "DateNaissance": date, "RangNaissance": "1", "INS": INS}]}


# In tenant A the NIR is NOUVEAU JEAN PAUL, born on the 1st; in tenant B it is AUTRE LUC, born on the 15th.
IN_A = person("NOUVEAU", "JEAN PAUL", "1990-01-01")
IN_B = person("AUTRE", "LUC", "1990-01-15")


class Insi:
    """A vendor's INSi client for one tenant: zeep, the WSDL of ``/t/{tenant}/lps`` (blocking: each call runs
    in a thread and hands its HTTP exchanges back to the test's event loop)."""

    def __init__(self, client: Client, idam: str) -> None:
        self.client = client
        bam = client.get_element("{urn:siram:bam:ctxbam}ContexteBAM")(
            Version="01_02", Id=str(uuid.uuid4()), Temps="2026-11-24T10:00:00Z", COUVERTURE={})
        lps = client.get_element("{urn:siram:lps:ctxlps}ContexteLPS")(
            Version="01_00", Nature="CTXLPS", Id=str(uuid.uuid4()), Temps="2026-11-24T10:00:00Z",
            LPS={"IDAM": {"_value_1": idam, "R": "4"}, "Version": "1.0", "Nom": "urn:lps:zeep:1.0"})
        self.headers = [bam, lps]

    @classmethod
    async def open(cls, http: Any, tenant: str, idam: str = "SEGURSANDBOX01") -> Insi:
        loop = asyncio.get_running_loop()
        prefix = "" if tenant == DEFAULT_TENANT else f"/t/{tenant}"

        def build() -> Insi:
            client = Client(f"{BASE_URL}{prefix}/lps?wsdl", transport=AsgiTransport(loop, http),
                            plugins=[WsAddressingPlugin()])
            return cls(client, idam)

        return await asyncio.to_thread(build)

    async def traits(self, nom: str, prenom: str, sexe: str, date: str) -> Any:
        return await asyncio.to_thread(lambda: self.client.service.rechercherInsAvecTraitsIdentite(
            NomNaissance=nom, Prenom=[prenom], Sexe=sexe, DateNaissance=date, _soapheaders=self.headers))

    async def vitale(self, number: str, key: str, date: str) -> Any:
        return await asyncio.to_thread(lambda: self.client.service.rechercherInsAvecCarteVitale(
            MatriculeOD={"NumIdentifiant": number, "Cle": key}, DateNaissance=date, RangNaissance="1",
            _soapheaders=self.headers))


def prefix(tenant: str) -> str:
    return "" if tenant == DEFAULT_TENANT else f"/t/{tenant}"


async def search_json(http: Any, tenant: str, nom: str, prenom: str, date: str, sexe: str = "M") -> dict:
    r = await http.post(f"{prefix(tenant)}/insi/v1/search-traits",
                        json={"NomNaissance": nom, "Prenom": prenom, "Sexe": sexe, "DateNaissance": date})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
async def tenants(client) -> AsyncIterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Two tenants seeded with the fixtures (deleted after the test, whatever it did to them)."""
    names = (f"ins-a-{uuid.uuid4().hex[:8]}", f"ins-b-{uuid.uuid4().hex[:8]}")
    try:
        for name in names:
            r = await client.post("/sandbox/v1/tenants", json={"name": name, "seed": "fixtures"})
            assert r.status_code == 201, r.text
        yield names
    finally:
        for name in names:
            await client.delete(f"/sandbox/v1/tenants/{name}")


async def ins_rows(app: Any, tenant: str) -> dict[str, int]:
    """How many rows of each INS table the store holds for ``tenant``."""
    counts = {}
    async with app.state.sessionmaker() as db:
        with use_tenant(tenant):
            for model in (InsPerson, InsMatricule, InsCard, InsIdam):
                column = model.idam if model is InsIdam else model.id
                counts[model.__tablename__] = await db.scalar(select(func.count(column)))
    return counts


async def test_the_wsdl_of_a_tenant_addresses_its_insi(client, settings, tenants) -> None:
    a, _ = tenants
    r = await client.get(f"/t/{a}/lps?wsdl")
    assert r.status_code == 200
    assert f'location="{settings.public_base_url}/t/{a}/lps"'.encode() in r.content
    default = await client.get("/lps?wsdl")
    assert f'location="{settings.public_base_url}/lps"'.encode() in default.content


async def test_seeded_persons_answer_in_both_tenants(client, tenants) -> None:
    """The fixtures answer alike in both tenants (and in the default one), calls interleaved over zeep."""
    a, b = tenants
    insi = {name: await Insi.open(client, name) for name in (a, b, DEFAULT_TENANT)}
    for name in (a, b, DEFAULT_TENANT, b, a):
        adrun = await insi[name].traits("ADRUN", "ZOE", "F", "1975-12-31")
        assert adrun.CR.CodeCR == "00", name
        assert adrun.INDIVIDU.INSACTIF.IdIndividu.NumIdentifiant == "2751263220749"
        several = await insi[name].traits("DE VINCI", "LEONARDO", "M", "2014-02-01")
        assert several.CR.CodeCR == "02"
        vitale = await insi[name].vitale("1090763220834", "89", "2009-07-14")
        assert vitale.CR.CodeCR == "00" and vitale.INDIVIDU.TIQ.NomNaissance == "ECETINSI"
        with pytest.raises(Fault) as fault:
            await insi[name].traits("D'AEION", "COEUR", "M", "1987-01-25")
        assert fault.value.detail[0].get("code") == "insi_102"


async def test_a_person_created_in_a_is_unknown_in_b(client, tenants) -> None:
    a, b = tenants
    insi_a, insi_b = await Insi.open(client, a), await Insi.open(client, b)
    r = await client.post(f"/t/{a}/sandbox/v1/persons", json=IN_A)
    assert r.status_code == 201, r.text

    found = await insi_a.traits("NOUVEAU", "JEAN", "M", "1990-01-01")
    assert found.CR.CodeCR == "00" and found.INDIVIDU.INSACTIF.IdIndividu.NumIdentifiant == NUMBER
    unknown = await insi_b.traits("NOUVEAU", "JEAN", "M", "1990-01-01")
    assert (unknown.CR.CodeCR, unknown.CR.LibelleCR) == ("01", "Aucune identite trouvee")
    assert unknown.INDIVIDU is None

    assert (await search_json(client, a, "NOUVEAU", "JEAN", "1990-01-01"))["CR"]["CodeCR"] == "00"
    for elsewhere in (b, DEFAULT_TENANT):
        answer = await search_json(client, elsewhere, "NOUVEAU", "JEAN", "1990-01-01")
        assert answer["CR"] == {"CodeCR": "01", "LibelleCR": "Aucune identite trouvee"}, elsewhere
        assert (await client.get(f"{prefix(elsewhere)}/sandbox/v1/persons/{INS}")).status_code == 404

    assert (await client.get(f"/t/{a}/sandbox/v1/persons/{INS}")).json()["ListePrenom"] == "JEAN PAUL"
    listed_a = (await client.get(f"/t/{a}/sandbox/v1/persons", params={"limit": 1000})).json()["persons"]
    listed_b = (await client.get(f"/t/{b}/sandbox/v1/persons", params={"limit": 1000})).json()["persons"]
    assert [p["NomNaissance"] for p in listed_a if p["NomNaissance"] == "NOUVEAU"] == ["NOUVEAU"]
    assert len(listed_a) == len(listed_b) + 1

    # removing it in B is "unknown there"; A keeps it
    r = await client.delete(f"/t/{b}/sandbox/v1/persons/{INS}")
    assert r.status_code == 404 and r.json()["rule"] == "INS:person-unknown"
    assert (await insi_a.traits("NOUVEAU", "JEAN", "M", "1990-01-01")).CR.CodeCR == "00"


async def test_the_same_nir_and_card_serial_in_both_tenants(client, tenants) -> None:
    """One NIR and one Carte Vitale serial created in both tenants with different traits: each tenant answers
    its own, by traits (SOAP and JSON), by card and in the verification."""
    a, b = tenants
    for name, body, nom, date in ((a, IN_A, "NOUVEAU", "1990-01-01"), (b, IN_B, "AUTRE", "1990-01-15")):
        assert (await client.post(f"/t/{name}/sandbox/v1/persons", json=body)).status_code == 201
        assert (await client.post(f"/t/{name}/sandbox/v1/cards", json=card(nom, date))).status_code == 201
    # taken within a tenant, still
    assert (await client.post(f"/t/{a}/sandbox/v1/persons", json=IN_A)).status_code == 409
    assert (await client.post(f"/t/{b}/sandbox/v1/cards", json=card("AUTRE", "1990-01-15"))).status_code == 409

    insi = {a: await Insi.open(client, a), b: await Insi.open(client, b)}
    own = {a: ("NOUVEAU", "JEAN", "1990-01-01", "JEAN PAUL"), b: ("AUTRE", "LUC", "1990-01-15", "LUC")}
    for name, other in ((a, b), (b, a), (a, b)):  # interleaved
        nom, prenom, date, liste = own[name]
        answer = await insi[name].traits(nom, prenom, "M", date)
        assert answer.CR.CodeCR == "00" and answer.INDIVIDU.TIQ.ListePrenom == liste
        assert answer.INDIVIDU.INSACTIF.IdIndividu.NumIdentifiant == NUMBER
        o_nom, o_prenom, o_date, _ = own[other]
        assert (await insi[name].traits(o_nom, o_prenom, "M", o_date)).CR.CodeCR == "01"
        assert (await search_json(client, name, nom, prenom, date))["INDIVIDU"]["TIQ"]["ListePrenom"] == liste
        assert (await search_json(client, name, o_nom, o_prenom, o_date))["CR"]["CodeCR"] == "01"

        by_card = await insi[name].vitale(NUMBER, KEY, date)
        assert by_card.CR.CodeCR == "00" and by_card.INDIVIDU.TIQ.NomNaissance == nom
        assert (await insi[name].vitale(NUMBER, KEY, o_date)).CR.CodeCR == "01"
        cards = (await client.get(f"/t/{name}/sandbox/v1/cards")).json()["cards"]
        assert [c["BENEFICIAIRES"][0]["NomNaissance"] for c in cards if c["NumeroSerie"] == SERIAL] == [nom]

        for traits_of, result in ((name, "OK"), (other, "KO")):
            t_nom, t_prenom, t_date, _ = own[traits_of]
            verified = await client.post(f"/t/{name}/insi/v1/verify", json={
                "INSFourni": {"IdIndividu": {"NumIdentifiant": NUMBER, "Cle": KEY}, "OID": OID_INS_NIR},
                "TraitsIdentiteIndividu": {"NomNaissance": t_nom, "Prenom": t_prenom, "Sexe": "M",
                                           "DateNaissance": t_date}})
            assert verified.status_code == 200 and verified.json()["result"] == result, (name, traits_of)
    # the default tenant has neither
    assert (await client.get(f"/sandbox/v1/persons/{INS}")).status_code == 404
    assert SERIAL not in {c["NumeroSerie"] for c in (await client.get("/sandbox/v1/cards")).json()["cards"]}


async def test_an_idam_added_in_a_is_refused_in_b(client, tenants) -> None:
    """An IDAM registered in tenant A is INSi's unknown-IDAM fault in B (siram_100 / desir_550), as any
    unregistered IDAM is."""
    a, b = tenants
    assert (await client.post(f"/t/{a}/sandbox/v1/idams", json={"IDAM": "LOGICIEL-A"})).status_code == 201
    insi_a, insi_b = await Insi.open(client, a, "LOGICIEL-A"), await Insi.open(client, b, "LOGICIEL-A")
    for _ in range(2):  # interleaved
        assert (await insi_a.traits("ADRUN", "ZOE", "F", "1975-12-31")).CR.CodeCR == "00"
        for call in (insi_b.traits("ADRUN", "ZOE", "F", "1975-12-31"), insi_b.vitale("1090763220834", "89",
                                                                                      "2009-07-14")):
            with pytest.raises(Fault) as fault:
                await call
            assert fault.value.code == "soap:Sender"
            assert fault.value.detail[0].get("code") == "desir_550"
            assert fault.value.detail[0].text == "Numéro d'autorisation du logiciel inconnu."
        assert (await insi_a.vitale("1090763220834", "89", "2009-07-14")).CR.CodeCR == "00"
    idams_b = {i["IDAM"] for i in (await client.get(f"/t/{b}/sandbox/v1/idams")).json()["idams"]}
    assert "LOGICIEL-A" not in idams_b and "SEGURSANDBOX01" in idams_b
    assert (await client.delete(f"/t/{b}/sandbox/v1/idams/LOGICIEL-A")).status_code == 404
    # the same IDAM may be registered in B too, on its own
    assert (await client.post(f"/t/{b}/sandbox/v1/idams", json={"IDAM": "LOGICIEL-A"})).status_code == 201
    assert (await insi_b.traits("ADRUN", "ZOE", "F", "1975-12-31")).CR.CodeCR == "00"


async def test_a_tenants_reset_leaves_the_other_alone(app, client, tenants) -> None:
    a, b = tenants
    for name, body in ((a, IN_A), (b, IN_B)):
        assert (await client.post(f"/t/{name}/sandbox/v1/persons", json=body)).status_code == 201
        assert (await client.post(f"/t/{name}/sandbox/v1/idams", json={"IDAM": "LOGICIEL-X"})).status_code == 201
    seeded = await ins_rows(app, b)
    default_before = await ins_rows(app, DEFAULT_TENANT)

    assert (await client.post(f"/t/{a}/sandbox/v1/reset")).status_code == 200

    assert (await search_json(client, a, "NOUVEAU", "JEAN", "1990-01-01"))["CR"]["CodeCR"] == "01"
    assert (await search_json(client, a, "ADRUN", "ZOE", "1975-12-31", "F"))["CR"]["CodeCR"] == "00"  # refilled
    assert (await search_json(client, b, "AUTRE", "LUC", "1990-01-15"))["CR"]["CodeCR"] == "00"
    with pytest.raises(Fault):
        await (await Insi.open(client, a, "LOGICIEL-X")).traits("ADRUN", "ZOE", "F", "1975-12-31")
    assert (await (await Insi.open(client, b, "LOGICIEL-X")).traits("AUTRE", "LUC", "M", "1990-01-15")).CR.CodeCR \
        == "00"
    assert await ins_rows(app, b) == seeded
    assert await ins_rows(app, DEFAULT_TENANT) == default_before


async def test_deleting_a_tenant_removes_its_ins_rows_only(app, client, tenants) -> None:
    a, b = tenants
    for name, body in ((a, IN_A), (b, IN_B)):
        assert (await client.post(f"/t/{name}/sandbox/v1/persons", json=body)).status_code == 201
    in_a, in_b = await ins_rows(app, a), await ins_rows(app, b)
    assert in_a == in_b and all(in_a.values())
    default_before = await ins_rows(app, DEFAULT_TENANT)

    r = await client.delete(f"/sandbox/v1/tenants/{a}")
    assert r.status_code == 200, r.text

    assert await ins_rows(app, a) == dict.fromkeys(in_a, 0)
    assert await ins_rows(app, b) == in_b
    assert await ins_rows(app, DEFAULT_TENANT) == default_before
    assert (await client.post(f"/t/{a}/insi/v1/search-traits", json={
        "NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"})).status_code == 404
    assert (await search_json(client, b, "AUTRE", "LUC", "1990-01-15"))["CR"]["CodeCR"] == "00"
    assert (await (await Insi.open(client, b)).traits("ADRUN", "ZOE", "F", "1975-12-31")).CR.CodeCR == "00"


async def test_a_psc_token_of_a_is_refused_by_the_insi_of_b(app, client, tenants) -> None:
    """SC.INS/PSC.01 in tenants: a Pro Santé Connect access token issued by tenant A's PSC is a credential of
    A's INSi only; B's answers DESIR_560, as to any token its PSC did not issue."""
    from tests.psc.helpers import access_token_for

    a, b = tenants
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"{BASE_URL}/t/{a}") as in_a:
        token = await access_token_for(in_a, "810001000016")
    headers = {"Content-Type": "application/soap+xml", "Authorization": f"Bearer {token}"}
    body = build_request(recsansvitale_xml("ADRUN", "ZOE", "F", "1975-12-31"))
    for _ in range(2):  # interleaved, and answered the same the second time (the token is not cached across)
        r = await client.post(f"/t/{a}/lps", content=body, headers=headers)
        assert r.status_code == 200 and b"<CodeCR>00</CodeCR>" in r.content, r.text
        for elsewhere in (f"/t/{b}/lps", "/lps"):
            r = await client.post(elsewhere, content=body, headers=headers)
            assert r.status_code == 500 and b'code="DESIR_560"' in r.content, (elsewhere, r.text)
