"""What a read XDM holds: patient ids parsed from their HL7 v2 CX form."""

from __future__ import annotations

from app.mss import xdm


def test_patient_id_parse():
    pid = xdm.PatientId.parse("297022A02077878^^^&1.2.250.1.213.1.4.8&ISO")
    assert (pid.id, pid.oid, pid.is_ins) == ("297022A02077878", "1.2.250.1.213.1.4.8", True)
    assert pid.to_cx() == "297022A02077878^^^&1.2.250.1.213.1.4.8&ISO"
    bare = xdm.PatientId.parse("12345")
    assert (bare.id, bare.oid, bare.is_ins) == ("12345", None, False)
