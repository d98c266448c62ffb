"""The MSSanté operator's SMTP listener (aiosmtpd), served on the application's own event loop.

- STARTTLS (SC.MSS/CONF.05) with TLS ≥ 1.2 (SC.MSS/CONF.01) and the ECDHE/DHE-RSA AES-GCM/CBC
  SHA-256/384 suites of SC.MSS/CONF.03 for TLS 1.2; a self-signed test certificate is generated at
  start-up unless ``SEGUR_MSS_TLS_CERT_FILE``/``KEY_FILE`` are set; optional implicit-TLS port.
- AUTH PLAIN and LOGIN with the fixture mailbox password (quick tests); XOAUTH2 (SC.MSS/CONF.07:
  ``user=<BAL>^Aauth=Bearer <PSC access token>^A^A``) and OAUTHBEARER (RFC 7628) with a PSC access
  token checked by :func:`app.psc.service.authenticate_access_token`; the professional must own the
  mailbox. AUTH is refused before STARTTLS unless ``SEGUR_MSS_SMTP_AUTH_REQUIRE_TLS=false``.
- MAIL FROM: a sandbox mailbox needs AUTH and must be one the authenticated identity may use (553 5.7.1);
  an unauthenticated sender must be on another operator's authorised domain (the inter-operator link).
- RCPT TO: outside the trust space -> ``550 5.7.1``; unknown mailbox -> ``550 5.1.1``. DSN extension
  (RFC 3461): ``NOTIFY``/``ORCPT`` on RCPT, ``RET``/``ENVID`` on MAIL.
- SIZE announced (RFC 1870) and enforced at DATA: ``552 5.3.4``.
- DATA: parse, check (:mod:`app.mss.checks`), refuse what an enforced rule refuses, otherwise store and
  deliver in one transaction; any unexpected failure answers ``451 4.3.0`` and stores nothing.
- Every session, refusal and message is journaled (``app.api.journal.record``).

The package, one concept a module: :mod:`.protocol` (the session: aiosmtpd's ``SMTP`` with the DSN
parameters and DATA read in bulk, :mod:`.data`), :mod:`.handler` (the stages MAIL, RCPT, DATA as service
calls), :mod:`.auth` (the SASL mechanisms), :mod:`.replies` (the domain's errors as SMTP replies),
:mod:`.tls` (certificates and TLS contexts) and :mod:`.listener` (the lifespan).
"""

from app.mss.smtp.auth import journal_login
from app.mss.smtp.handler import MssHandler
from app.mss.smtp.listener import smtp_lifespan
from app.mss.smtp.protocol import MssSMTP
from app.mss.smtp.tls import issue_client_certificate

__all__ = ["MssHandler", "MssSMTP", "issue_client_certificate", "journal_login", "smtp_lifespan"]
