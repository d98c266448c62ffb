"""The XDM writer: what it builds reads back with the MSSanté layout and metadata; what it refuses."""

from __future__ import annotations

import pytest

from app.mss import xdm
from tests.mss.helpers import (
    SAMPLE_CDA,
    SAMPLE_INS,
    cda_without_ins,
    cda_without_traits,
    sample_xdm,
)


def test_writer_output_reads_back_with_layout_and_metadata():
    archive = sample_xdm()
    package = xdm.read_xdm(archive)
    assert package.issues == []
    assert {"INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML"} <= set(package.files)
    assert package.submission_set is not None
    assert package.submission_set.patient_id == xdm.PatientId.parse(
        f"{SAMPLE_INS}^^^&1.2.250.1.213.1.4.8&ISO"
    )
    assert [d.mime_type for d in package.documents] == ["text/xml", "application/pdf"]
    cda_entry = package.documents[0]
    assert cda_entry.type_code == xdm.Code("11488-4", xdm.LOINC, "Note de consultation")
    assert cda_entry.class_code is not None and cda_entry.class_code.code == "10"
    assert cda_entry.unique_id == "1.2.250.1.999.1.2.1^CR-0001"
    assert cda_entry.hash is not None and cda_entry.size == len(SAMPLE_CDA)
    assert package.cda_codes == ["11488-4"]
    assert package.has_qualified_ins is True
    assert [p.id for p in package.patient_ids] == [SAMPLE_INS]


def test_writer_without_pdf_and_explicit_patient():
    archive = xdm.build_xdm(cda_without_ins(), patient_id="1234", patient_oid="1.2.250.1.999.9")
    package = xdm.read_xdm(archive)
    assert len(package.documents) == 1
    assert package.documents[0].patient_id is not None
    assert package.documents[0].patient_id.is_ins is False
    assert package.has_qualified_ins is False


def test_writer_refuses_cda_without_patient():
    with pytest.raises(xdm.XdmError) as info:
        xdm.build_xdm(cda_without_ins())
    assert info.value.code == "xdm.cda.patient"


def test_writer_refuses_non_cda():
    with pytest.raises(xdm.XdmError) as info:
        xdm.build_xdm(b"<html/>")
    assert info.value.code == "xdm.cda.invalid"


def test_ins_not_qualified_without_the_four_traits():
    package = xdm.read_xdm(sample_xdm(cda_without_traits()))
    assert package.cda_codes == ["11488-4"]
    assert package.documents[0].cda is not None
    assert package.documents[0].cda.ins == SAMPLE_INS
    assert package.has_qualified_ins is False
