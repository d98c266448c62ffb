"""The SMTP fixtures of tests/mss, for the conformance scenarios that send mail."""

from tests.mss.conftest import smtp_call, smtp_port, tls_context  # noqa: F401 - fixtures re-exported
