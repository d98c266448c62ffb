"""A real SOAP client (zeep) loads the sandbox's WSDL and calls INSi as a vendor would.

zeep is blocking: it runs in a thread, and its transport hands each HTTP exchange back to the test's event
loop (which serves the app through httpx's ASGI transport).
"""

from __future__ import annotations

import asyncio

import pytest
import requests
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

from app.shared.identifiers import OID_INS_NIR


class AsgiTransport(Transport):
    def __init__(self, loop: asyncio.AbstractEventLoop, http, cn: str = "INSI-AUTO") -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.loop, self.http, self.cn = loop, http, cn

    def _call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def load(self, url: str) -> bytes:
        return self._call(self.http.get(url)).content

    def post(self, address, message, headers):  # type: ignore[no-untyped-def]
        r = self._call(self.http.post(address, content=message, headers={**headers, "X-Client-Cert-CN": self.cn}))
        out = requests.models.Response()
        out.status_code, out._content, out.encoding = r.status_code, r.content, "utf-8"
        out.headers = requests.structures.CaseInsensitiveDict(r.headers)
        return out


def _zeep_calls(loop: asyncio.AbstractEventLoop, http, idam: str = "SEGURSANDBOX01") -> dict:  # type: ignore[no-untyped-def]
    client = Client("http://sandbox.test/lps?wsdl", transport=AsgiTransport(loop, http),
                    plugins=[WsAddressingPlugin()])
    bam = client.get_element("{urn:siram:bam:ctxbam}ContexteBAM")(
        Version="01_02", Id="1f7425e2-b913-415c-adaa-785ee1076a70", Temps="2026-11-24T10:00:00Z", COUVERTURE={})
    lps = client.get_element("{urn:siram:lps:ctxlps}ContexteLPS")(
        Version="01_00", Nature="CTXLPS", Id="1f7425e2-b913-415c-adaa-785ee1076a70", Temps="2026-11-24T10:00:00Z",
        LPS={"IDAM": {"_value_1": idam, "R": "4"}, "Version": "1.0", "Nom": "urn:lps:zeep:1.0"})
    headers = [bam, lps]
    out: dict = {}
    out["adrun"] = client.service.rechercherInsAvecTraitsIdentite(
        NomNaissance="ADRUN", Prenom=["ZOE"], Sexe="F", DateNaissance="1975-12-31", _soapheaders=headers)
    out["devinci"] = client.service.rechercherInsAvecTraitsIdentite(
        NomNaissance="DE VINCI", Prenom=["LEONARDO"], Sexe="M", DateNaissance="2014-02-01", _soapheaders=headers)
    out["ecetinsi_vitale"] = client.service.rechercherInsAvecCarteVitale(
        MatriculeOD={"NumIdentifiant": "1090763220834", "Cle": "89"}, DateNaissance="2009-07-14",
        RangNaissance="1", _soapheaders=headers)
    for name, kwargs in {
        "aeion": {"NomNaissance": "D'AEION", "Prenom": ["COEUR"], "Sexe": "M", "DateNaissance": "1987-01-25"},
    }.items():
        try:
            client.service.rechercherInsAvecTraitsIdentite(**kwargs, _soapheaders=headers)
        except Fault as fault:
            out[name] = fault
    return out


async def test_zeep_against_the_wsdl(client) -> None:
    out = await asyncio.to_thread(_zeep_calls, asyncio.get_running_loop(), client)
    adrun = out["adrun"]
    assert adrun.CR.CodeCR == "00" and adrun.CR.LibelleCR == "OK"
    assert adrun.INDIVIDU.INSACTIF.IdIndividu.NumIdentifiant == "2751263220749"
    assert adrun.INDIVIDU.INSACTIF.OID == OID_INS_NIR
    assert adrun.INDIVIDU.TIQ.ListePrenom == "ZOE"
    assert out["devinci"].CR.CodeCR == "02" and out["devinci"].INDIVIDU is None
    vitale = out["ecetinsi_vitale"]
    assert vitale.CR.CodeCR == "00" and len(vitale.INDIVIDU.INSHISTO) == 1
    fault = out["aeion"]
    assert fault.code == "soap:Receiver"
    assert fault.detail[0].get("code") == "insi_102"


async def test_zeep_unknown_idam(client) -> None:
    with pytest.raises(Fault) as err:
        await asyncio.to_thread(_zeep_calls, asyncio.get_running_loop(), client, "INCONNU")
    assert err.value.detail[0].get("code") == "desir_550"
