"""The XDM builder writes the CI-SIS format code (JDV_J10) of each document kind, and the sandbox's own
DMP accepts the same document with that code (ITI-65), as it refuses the old mimeTypeSufficient.

Document shapes: tests/mss/cda_shapes.py (ANS examples, ansforge/TestContenuCDA-3-0 @7cd489b). Codes: the
DMP's shipped J10/J60 (app/shared/valuesets); codingScheme OIDs: ansforge/TestContenuCDA-3-0
FeuilleDeStyle/CDAHeaderToXDM.xsl @7cd489b.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from app.mss import xdm
from tests.dmp.builders import docref, provide_bundle
from tests.mss.cda_shapes import PDF_BODY, STRUCTURED_BODY, TEXT_BODY, ZOE_INS, cda
from tests.psc.helpers import access_token_for

FONTAINE = "810001000016"  # authorised on ZOE's seeded DMP (app/dmp/fixtures/dmps.json)
IHE = "1.3.6.1.4.1.19376.1.2.3"
CISIS = "1.2.250.1.213.1.1.4.2.282"
FHIR_SYSTEM = {  # XDS codingScheme -> the FHIR system the DMP's value set names
    IHE: "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode",
    CISIS: "https://mos.esante.gouv.fr/NOS/TRE_A06-FormatCodeComplementaire/FHIR/TRE-A06-FormatCodeComplementaire",
}
JPEG_BODY = TEXT_BODY.replace('mediaType="text/plain"', 'mediaType="image/jpeg"')

KINDS = {
    "level 1 PDF": (cda(body=PDF_BODY), "urn:ihe:iti:xds-sd:pdf:2008", IHE),
    "level 1 text": (cda(body=TEXT_BODY), "urn:ihe:iti:xds-sd:text:2008", IHE),
    "level 1 JPEG": (cda(body=JPEG_BODY), "urn:ihe:iti-fr:xds-sd:jpeg:2010", IHE),
    "VSM": (cda(templates=("1.2.250.1.213.1.1.1.13",), body=STRUCTURED_BODY, code="60591-5"),
            "urn:asip:ci-sis:vsm:2012", CISIS),
    "CR-BIO": (cda(templates=("1.3.6.1.4.1.19376.1.3.3", "1.2.250.1.213.1.1.1.55"), body=STRUCTURED_BODY,
                   code="11502-2"), "urn:ihe:lab:xd-lab:2008", IHE),
    "LDL-SES": (cda(templates=("1.2.250.1.213.1.1.1.29",), body=STRUCTURED_BODY, code="11490-0"),
                "urn:asip:ci-sis:ldl-ses:2017", CISIS),
    "structured, no volet": (cda(templates=(), body=STRUCTURED_BODY), "urn:asipSante:modelesHorsProfils:2011", CISIS),
}


def _cda_entry(archive: bytes) -> tuple[bytes, etree._Element]:
    """The CDA file of the archive and its ExtrinsicObject in METADATA.XML."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        metadata = etree.fromstring(zf.read(xdm.METADATA_PATH))
        entry = next(e for e in metadata.iter(f"{{{xdm.RIM}}}ExtrinsicObject") if e.get("mimeType") == "text/xml")
        uri = next(s for s in entry.iter(f"{{{xdm.RIM}}}Slot") if s.get("name") == "URI")
        return zf.read(xdm.SUBSET + uri.findtext(f".//{{{xdm.RIM}}}Value")), entry


def _format_of(entry: etree._Element) -> tuple[str, str]:
    cl = next(c for c in entry.iter(f"{{{xdm.RIM}}}Classification")
              if c.get("classificationScheme") == xdm.DE_FORMAT_CODE)
    return cl.get("nodeRepresentation"), cl.findtext(f"{{{xdm.RIM}}}Slot/{{{xdm.RIM}}}ValueList/{{{xdm.RIM}}}Value")


async def _iti65(client, token: str, document: bytes, code: str, scheme: str, type_code: str):  # type: ignore[no-untyped-def]
    bundle = provide_bundle(ZOE_INS, data=document, content_type="text/xml", type_code=type_code)
    docref(bundle)["content"][0]["format"] = {"system": FHIR_SYSTEM.get(scheme, "urn:oid:" + scheme), "code": code}
    return await client.post("/dmp/fhir", content=json.dumps(bundle), headers={
        "Authorization": f"Bearer {token}", "Accept": "application/fhir+json", "Content-Type": "application/fhir+json"})


@pytest.mark.parametrize("kind", list(KINDS))
async def test_builder_writes_the_kind_format_code_and_the_dmp_accepts_it(client, kind: str) -> None:  # type: ignore[no-untyped-def]
    document, expected, scheme = KINDS[kind]
    token = await access_token_for(client, FONTAINE)
    built = await client.post("/mss/v1/xdm", content=document,
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"})
    assert built.status_code == 200, built.text
    stored, entry = _cda_entry(built.content)
    assert stored == document
    assert _format_of(entry) == (expected, scheme)
    type_code = xdm.parse_cda_header(document).code.code  # type: ignore[union-attr]
    answer = await _iti65(client, token, stored, expected, scheme, type_code)
    assert answer.status_code == 200, answer.text


async def test_dmp_refuses_the_old_mime_type_sufficient_code(client) -> None:  # type: ignore[no-untyped-def]
    """Why the builder no longer writes it: the DMP's J60 does not hold it."""
    token = await access_token_for(client, FONTAINE)
    answer = await _iti65(client, token, KINDS["VSM"][0], "urn:ihe:iti:xds:2017:mimeTypeSufficient", IHE, "60591-5")
    assert answer.status_code in (400, 422) and "J60" in answer.text


async def test_unknown_volet_is_refused_unless_the_code_is_given(client) -> None:  # type: ignore[no-untyped-def]
    token = await access_token_for(client, FONTAINE)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    unknown = cda(templates=("1.2.250.1.213.1.1.1.999",), body=STRUCTURED_BODY)
    refused = await client.post("/mss/v1/xdm", content=unknown, headers=headers)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    assert "1.2.250.1.213.1.1.1.999" in refused.json()["detail"]
    given = await client.post("/mss/v1/xdm", params={"formatCode": "urn:asip:ci-sis:vsm:2012"}, content=unknown,
                              headers=headers)
    assert given.status_code == 200 and _format_of(_cda_entry(given.content)[1]) == ("urn:asip:ci-sis:vsm:2012", CISIS)
    bad = await client.post("/mss/v1/xdm", params={"formatCode": "urn:ihe:iti:xds:2017:mimeTypeSufficient"},
                            content=unknown, headers=headers)
    assert bad.status_code == 422 and "JDV_J10" in bad.json()["detail"]
    odd_media = cda(body=TEXT_BODY.replace('mediaType="text/plain"', 'mediaType="video/mp4"'))
    assert (await client.post("/mss/v1/xdm", content=odd_media, headers=headers)).status_code == 422


def test_cli_xdm_build_writes_the_format_code(tmp_path: Path) -> None:
    source = tmp_path / "vsm.xml"
    source.write_bytes(KINDS["VSM"][0])
    out = tmp_path / "IHE_XDM.ZIP"
    result = subprocess.run([sys.executable, "-m", "app.cli", "xdm", "build", str(source), "-o", str(out)],
                            cwd=Path(__file__).resolve().parents[3], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "formatCode: urn:asip:ci-sis:vsm:2012" in result.stdout
    assert _format_of(_cda_entry(out.read_bytes())[1]) == ("urn:asip:ci-sis:vsm:2012", CISIS)


def test_every_code_the_builder_can_write_is_in_the_dmp_value_set() -> None:
    """A typo in the kind tables fails here, not in a vendor's DMP submission."""
    for code in {*xdm.LEVEL1_FORMAT_CODES.values(), *xdm.VOLET_FORMAT_CODES.values(),
                 xdm.OUT_OF_PROFILE_FORMAT_CODE, xdm.PDF_FORMAT_CODE}:
        resolved = xdm.j10_format_code(code)
        assert resolved.code == code and resolved.scheme in (IHE, CISIS) and resolved.display
