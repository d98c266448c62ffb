"""Fixtures of the fault-injection tests, borrowed from the faces' own tests: PSC tokens (``token``, ``auth``),
Authlib clients (``oauth_factory``, ``confidential_oauth``), SMTP (``smtp_port``, ``tls_context``, ``smtp_call``)."""

from tests.dmp.conftest import auth, token
from tests.mss.conftest import smtp_call, smtp_port, tls_context
from tests.psc.conftest import confidential_oauth, oauth_factory

__all__ = ["auth", "confidential_oauth", "oauth_factory", "smtp_call", "smtp_port", "tls_context", "token"]
