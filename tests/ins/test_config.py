"""INS settings refuse unworkable values at start-up, naming the subsystem."""

from __future__ import annotations

import pytest

from app.config import SettingsError, load_settings


@pytest.mark.parametrize(("field", "value", "message"), [
    ("ins_soap_max_bytes", 100, "SEGUR_INS_SOAP_MAX_BYTES"),
    ("ins_cert_cn_header", "X Cert", "SEGUR_INS_CERT_CN_HEADER"),
    ("ins_oid_policy", "demo", "ins_oid_policy"),
])
def test_refused_settings(field: str, value: object, message: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(**{field: value})
    assert message.lower() in str(err.value).lower()


def test_defaults() -> None:
    s = load_settings()
    assert (s.ins_oid_policy, s.ins_status_system, s.ins_cert_cn_header) == ("real", "new", "X-Client-Cert-CN")
