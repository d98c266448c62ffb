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
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime as dt
import ipaddress
import json
import logging
import re
import socket
import ssl
import tempfile
import time
import traceback
import uuid
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword, syntax

from app.api.journal import record
from app.mss import service

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger("segur.mss.smtp")

TLS12_CIPHERS = (
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA256:"
    "ECDHE-RSA-AES256-SHA384:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
)


# --- TLS ------------------------------------------------------------------------------------------

def generate_test_certificate(hostname: str) -> tuple[bytes, bytes]:
    """A self-signed RSA-2048 certificate for ``hostname``, localhost and 127.0.0.1 (PEM cert, PEM key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from app.keygen import rsa_2048

    key = rsa_2048()
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Segur Sandbox (test certificate, not IGC-Sante)"),
        x509.NameAttribute(NameOID.COMMON_NAME, hostname),
    ])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(hostname), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def generate_test_ca() -> tuple[bytes, bytes]:
    """The sandbox's test CA for client certificates of APP mailboxes (stands in for IGC-Santé)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())  # EC: generated in ~1 ms, keeps the cold start short
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Segur Sandbox"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Segur Sandbox test CA (stands in for IGC-Sante, not trusted)"),
    ])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def issue_client_certificate(ca_cert_pem: bytes, ca_key_pem: bytes, *, address: str,
                             organization: str | None) -> tuple[bytes, bytes]:
    """A client certificate for an applicative mailbox (CN and rfc822Name = the mailbox address), signed by
    the test CA: what SC.MSS/CONF.12 calls AUTH_CLI with an "organisation" certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, address[:64]))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name(attributes)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def certificate_addresses(peercert: dict[str, Any] | None) -> set[str]:
    """Mailbox addresses a verified TLS client certificate names (subject CN, rfc822Name SANs)."""
    if not peercert:
        return set()
    found = {value.lower() for kind, value in peercert.get("subjectAltName", ()) if kind == "email"}
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                found.add(str(value).lower())
    return found


def server_tls_context(cert_pem: bytes, key_pem: bytes, client_ca_pem: bytes | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    if client_ca_pem is not None:
        # Client certificates are optional (PER/ORG mailboxes use a PSC token); when one is sent it must
        # chain to the test CA, and it then authenticates its APP mailbox (SC.MSS/CONF.12).
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=client_ca_pem.decode())
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        key_file.chmod(0o600)
        context.load_cert_chain(cert_file, key_file)
    return context


# --- the protocol ---------------------------------------------------------------------------------

LOOKUP_TTL = 5.0
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")  # several workers share the SMTP port (Linux, BSD)
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"  # RFC 5322 §3.2.3
_PLAIN_ANGLE_ADDR = re.compile(rf"<({_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")
_DSN_MAIL = re.compile(r"\s+(RET|ENVID)=(\S+)", re.IGNORECASE)
_DSN_RCPT = re.compile(r"\s+(NOTIFY|ORCPT)=(\S+)", re.IGNORECASE)
_REWRITES = {
    "552 Error: Too much mail data": "552 5.3.4 Message size exceeds fixed maximum message size ({limit} bytes)",
    "552 Error: message size exceeds fixed maximum message size":
        "552 5.3.4 Message size exceeds fixed maximum message size ({limit} bytes)",
}


def _has_long_line(data: bytes | bytearray, start: int, limit: int = 999) -> bool:
    """Whether a line of ``data[start:]`` (split at LF; the CR counts) is longer than ``limit`` octets
    (RFC 5321 §4.5.3.1.6: 998 + CRLF). A run of ``limit + 1`` octets without LF covers a whole aligned
    window of ``(limit + 1) // 2`` octets, so when every such window holds an LF no line is too long
    (one ``find`` per 500 octets instead of splitting the message into lines); otherwise the lines are
    measured."""
    step = (limit + 1) // 2
    find = data.find
    for at in range(start, len(data) - step + 1, step):
        if find(b"\n", at, at + step) < 0:
            return max(map(len, bytes(data[start:]).split(b"\n"))) > limit
    return False


def _scan_data(buffer: bytearray, scan_from: int, stuffed: bool) -> tuple[int, int, bool]:
    """One scan for "CRLF ." over what arrived since ``scan_from`` finds both the end of DATA ("CRLF . CRLF",
    RFC 5321 §4.1.1.4) and the dot-stuffed lines. Returns (where the terminator's CRLF starts or -1, where
    to scan from when more data has arrived, whether a dot-stuffed line was seen). Once one is seen, only
    the terminator is looked for (a message of dot-stuffed lines is not walked line by line in Python)."""
    while True:
        if stuffed:
            end = buffer.find(b"\r\n.\r\n", scan_from)
            return end, end if end >= 0 else max(0, len(buffer) - 4), True
        hit = buffer.find(b"\r\n.", scan_from)
        if hit < 0:
            return -1, max(0, len(buffer) - 2), stuffed
        if len(buffer) < hit + 5:  # what follows the dot is still to come
            return -1, hit, stuffed
        if buffer[hit + 3:hit + 5] == b"\r\n":
            return hit, hit, stuffed
        stuffed = True
        scan_from = hit + 3


def _unstuffed(buffer: bytearray, stuffed: bool | None = None) -> bytes:
    """The message of a DATA ``buffer`` that starts with the DATA line's CRLF and ends with the last line's
    CRLF, dot-unstuffed (RFC 5321 §4.5.2): every "CRLF ." loses its dot, the first line's leading dot
    included thanks to that first CRLF. One copy of the message (two when a line starts with a dot).
    ``stuffed``: whether the reader saw such a line (None: look)."""
    if stuffed is None:
        stuffed = buffer.find(b"\r\n.") >= 0
    if stuffed:
        buffer = buffer.replace(b"\r\n.", b"\r\n")
    with memoryview(buffer) as view:
        return bytes(view[2:])


class MssSMTP(SMTP):
    """aiosmtpd's SMTP with the DSN extension parameters, MSSanté reply texts and a journal."""

    def __init__(self, handler: MssHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        # RFC 4954 §4: an AUTH line may reach 12288 octets (a PSC token in XOAUTH2 is ~1-2 KB).
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.command_size_limits["AUTH"] = 12288
        reader = getattr(self, "_stream_reader", None)
        if reader is not None:  # DATA lines are still checked against line_length_limit
            reader._limit = 12288 + 2
        self.mss = handler
        self.session_id = uuid.uuid4().hex[:16]
        self.started = time.monotonic()
        self.accepted = 0
        self.refusals: list[tuple[str, str | None]] = []
        self.pending_rcpt_params: dict[str, str] = {}
        self.pending_mail_params: dict[str, str] = {}
        self.dsn_rcpt: dict[str, str | None] = {}
        self.dsn_mail: dict[str, str] = {}
        self.verdicts: dict[str, service.RecipientVerdict] = {}
        self.lookups: dict[tuple[str, str], tuple[float, Any]] = {}
        self.lookups_generation = handler.generation
        self.sender_mailbox: Any = None
        self.identity: dict[str, Any] | None = None
        self.last_rule: str | None = None

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            for prefix, text in _REWRITES.items():
                if status.startswith(prefix):
                    status = text.format(limit=self.data_size_limit)
                    self.last_rule = "MSS:size"
            if status[:1] in ("4", "5"):
                self.refusals.append((status[:200], self.last_rule))
        self.last_rule = None
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser (``email._header_value_parser.get_angle_addr``, ~0.1 ms a call) with a
        fast path for the usual ``<dot-atom@domain>``: same address and same rest of the line; anything
        else (quoted local part, comments, source route, address literal, UTF-8...) goes to aiosmtpd, and
        so does an address with ``=?``: the stdlib parser decodes a local part that starts as an RFC 2047
        encoded word (``<=?utf-8?q?a?=@b>`` is ``a@b`` to aiosmtpd), however strange that is in SMTP."""
        match = _PLAIN_ANGLE_ADDR.match(arg) if arg else None
        if match is None or "=?" in match.group(1):
            return super()._getaddr(arg)
        rest = arg[match.end():]
        if rest[:1] in (" ", "\t"):  # get_angle_addr skips folding white space (str.lstrip) and comments
            rest = rest.lstrip()
        if rest[:1] == "(":
            return super()._getaddr(arg)
        address = match.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    async def smtp_MAIL(self, arg: str | None) -> None:
        self.pending_mail_params = {}
        if arg:
            self.pending_mail_params = {m.group(1).upper(): m.group(2) for m in _DSN_MAIL.finditer(arg)}
            arg = _DSN_MAIL.sub("", arg)
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        self.pending_rcpt_params = {}
        if arg:
            self.pending_rcpt_params = {m.group(1).upper(): m.group(2) for m in _DSN_RCPT.finditer(arg)}
            arg = _DSN_RCPT.sub("", arg)
        await super().smtp_RCPT(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """DATA read in bulk (aiosmtpd reads it line by line, which dominates the CPU cost of a 100 KB
        message); same replies, RFC 5321 §4.5.2 dot-unstuffing, §4.5.3.1.6 line length, SIZE limit."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        limit = self.data_size_limit or 0
        buffer = bytearray(b"\r\n")  # the DATA line's CRLF: lets a lone "." on the first line match
        too_big = False
        scan_from = 0
        stuffed = False  # a line starts with a dot (other than the terminator): unstuff
        end = -1
        while True:
            chunk = await self._reader.read(262144)
            if not chunk:  # connection closed mid-DATA
                return
            buffer += chunk
            end, scan_from, stuffed = _scan_data(buffer, scan_from, stuffed)
            if end >= 0:
                leftover = bytes(buffer[end + 5:])
                if leftover:  # a client that pipelines after the terminator: give the bytes back
                    self._reader._buffer[0:0] = leftover  # type: ignore[attr-defined]
                del buffer[end + 2:]
                break
            if limit and len(buffer) > limit + 2:
                too_big = True
                keep = bytes(buffer[-4:])  # discard what is over the limit, keep enough to see the end
                buffer = bytearray(keep)
                scan_from = 0
        if too_big or (limit and len(buffer) - 2 > limit):
            self._set_post_data_state()
            self.last_rule = "MSS:size"
            await self.push(f"552 5.3.4 Message size exceeds fixed maximum message size ({limit} bytes)")
            return
        content = _unstuffed(buffer, stuffed)
        # Measured once unstuffed: the 1,000 octets of a line do not count "the leading dot duplicated for
        # transparency" (RFC 5321 §4.5.3.1.6), as aiosmtpd allows 1,001.
        if len(content) > 998 and _has_long_line(content, 0):
            self._set_post_data_state()
            await self.push("500 5.5.2 Line too long (see RFC5321 4.5.3.1.6)")
            return
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    def _set_rset_state(self) -> None:
        super()._set_rset_state()
        self._clear_transaction()

    def _set_post_data_state(self) -> None:
        super()._set_post_data_state()
        self._clear_transaction()

    def _clear_transaction(self) -> None:
        self.dsn_rcpt, self.dsn_mail, self.verdicts, self.sender_mailbox = {}, {}, {}, None

    async def cached(self, key: tuple[str, str], factory: Any) -> Any:
        """Trust-space and mailbox lookups, remembered for LOOKUP_TTL seconds within one connection (a
        client sending many messages to the same addresses does not repeat the queries), and forgotten
        when the store is reset (the mailboxes are seeded again, new ids), a mailbox is created or a fault
        scripted, by any worker (:meth:`MssHandler.forget`)."""
        now = time.monotonic()
        if self.lookups_generation != self.mss.generation:
            self.lookups.clear()
            self.lookups_generation = self.mss.generation
        hit = self.lookups.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self.mss.generation
        value = await factory()
        if generation != self.mss.generation:  # reset while the lookup ran: do not keep its answer
            return value
        if len(self.lookups) > 1000:
            self.lookups.clear()
        self.lookups[key] = (now + LOOKUP_TTL, value)
        return value

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._original_transport is not None:  # after STARTTLS: forget what was said in clear (RFC 3207 §4.2)
            self.identity = None
            self._clear_transaction()

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        peer = self.session.peer if self.session else None
        refused = self.refusals[-1] if self.refusals else None
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(record(
                self.mss.app, protocol="smtp", method="SESSION", path="/mss/smtp", service="mss",
                request_id=self.session_id, client=_peer(peer), operation="mss.smtp.session",
                outcome="ok" if not self.refusals else "refused",
                status=(_reply_code(refused[0]) if refused else None) or 221,
                rule=refused[1] if refused else None,
                detail=(f"identity={self.identity.get('login') if self.identity else None} accepted={self.accepted} "
                        f"refusals={len(self.refusals)} tls={'yes' if self._tls_protocol else 'no'}"),
                duration_ms=(time.monotonic() - self.started) * 1000,
            ))


class _QuietLoginData(logging.Filter):
    """On aiosmtpd's ``mail.log``: drops its deprecation noise about ``login_data`` and the debug records
    that would carry a SASL response (an undecodable AUTH blob, a logged client response): credentials
    never reach the logs."""

    mss = True
    SASL_FORMATS = frozenset({"%r can't decode base64: %s", "%r >> %r"})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in self.SASL_FORMATS:
            return False
        return "login_data is deprecated" not in record.getMessage()


_REPLY_CODE = re.compile(r"[2-5][0-9]{2}")
_LOGIN_CUT = re.compile(r"[\s\x00\x01]")
_LOGIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}")


def _reply_code(reply: str | None) -> int | None:
    """The SMTP reply code at the start of ``reply`` (ASCII digits only), else None."""
    if not reply:
        return None
    head = reply[:3]
    return int(head) if _REPLY_CODE.fullmatch(head) else None


def journal_login(value: str | None) -> str:
    """What the journal may say of a login or SASL ``user``: the address up to the first whitespace, NUL
    or ^A, lower-cased, when it is a plain mailbox address; ``-`` otherwise. A client that forgets the
    XOAUTH2 separators puts ``auth=Bearer <token>`` after the address: it is cut off here, and a value
    that is not an address (a password typed as the login, a token) is never written."""
    if not value:
        return "-"
    head = _LOGIN_CUT.split(value, maxsplit=1)[0]
    return head.lower() if _LOGIN_ADDRESS.fullmatch(head) else "-"


def _close(server: MssSMTP) -> None:
    if server.transport is not None:
        server.transport.close()


def _peer(peer: Any) -> str | None:
    if isinstance(peer, tuple) and peer:
        return f"{peer[0]}:{peer[1]}" if len(peer) > 1 else str(peer[0])
    return None if peer is None else str(peer)


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.encode(), validate=True)
    except Exception:
        return None


class MssHandler:
    """The aiosmtpd handler: ``handle_*`` hooks and the ``auth_*`` mechanisms (handler-defined
    mechanisms replace aiosmtpd's built-in PLAIN/LOGIN, so credentials are checked asynchronously)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.settings = app.state.settings
        self._autocommit: Any = None
        self.generation = 0
        """Bumped when the store is reset, a mailbox created or a fault scripted: every connection's cached
        lookups are then forgotten."""

    def forget(self, _key: str = "") -> None:
        """Store event ``store.reset`` or ``mss.lookups`` (from this worker, or another one's relayed by
        PostgreSQL)."""
        self.generation += 1

    def autocommit_sessions(self) -> Any:
        """On PostgreSQL, a sessionmaker whose sessions run each statement in its own transaction
        (autocommit: no BEGIN/COMMIT round trips); None on other stores."""
        if self._autocommit is None:
            engine = getattr(self.app.state, "engine", None)
            self._autocommit = False
            if engine is not None and engine.dialect.name == "postgresql":
                from sqlalchemy.ext.asyncio import async_sessionmaker

                self._autocommit = async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"),
                                                      expire_on_commit=False, autoflush=False)
        return self._autocommit or None

    # -- journal helper --
    async def journal(self, server: MssSMTP, *, method: str, outcome: str, status: int | None, rule: str | None,
                      detail: str | None, operation: str) -> None:
        await record(self.app, protocol="smtp", method=method, path="/mss/smtp", service="mss",
                     request_id=server.session_id, client=_peer(server.session.peer if server.session else None),
                     operation=operation, outcome=outcome, status=status, rule=rule, detail=detail)

    # -- EHLO: advertise DSN --
    async def handle_EHLO(self, server: MssSMTP, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-DSN", "250-ENHANCEDSTATUSCODES", responses[-1]]

    # -- AUTH --
    async def _login(self, server: MssSMTP, login: bytes, password: bytes, mechanism: str) -> AuthResult:
        address = login.decode("utf-8", "replace")
        peercert = server.transport.get_extra_info("peercert") if server.transport is not None else None
        async with self.app.state.sessionmaker() as session:
            mailbox = await service.get_mailbox(session, address)
            by_certificate = (mailbox is not None and mailbox.type == "APP"
                              and mailbox.address.lower() in certificate_addresses(peercert))
            ok = mailbox is not None and (by_certificate or service.check_password(
                mailbox.password_hash, password.decode("utf-8", "replace")))
            canonical = mailbox.address if mailbox else address
            if by_certificate:
                mechanism += "+client-certificate"
        if not ok:
            server.last_rule = "MSS:auth.password"
            await self.journal(server, method="AUTH", outcome="refused", status=535, rule="MSS:auth.password",
                               detail=f"{mechanism} {journal_login(address)}", operation="mss.smtp.auth")
            return AuthResult(success=False, handled=False)
        server.identity = {"kind": "password", "login": canonical.lower(), "mechanism": mechanism}
        return AuthResult(success=True, auth_data=LoginPassword(canonical.encode(), b""))

    @staticmethod
    async def _response(server: MssSMTP, args: list[str], challenge: str) -> bytes | None:
        """The client's SASL response: the initial response of the AUTH line, or the answer to a 334
        challenge. None when the exchange failed (the reply has been sent)."""
        if len(args) == 1:
            blob = await server.challenge_auth(challenge)
            return blob if isinstance(blob, bytes) else None
        decoded = _b64(args[1])
        if decoded is None:
            await server.push("501 5.5.2 Can't decode base64")
        return decoded

    async def auth_PLAIN(self, server: MssSMTP, args: list[str]) -> AuthResult:
        blob = await self._response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        pieces = blob.split(b"\x00")
        if len(pieces) != 3:
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._login(server, pieces[1], pieces[2], "PLAIN")

    async def auth_LOGIN(self, server: MssSMTP, args: list[str]) -> AuthResult:
        login = await self._response(server, args, "User Name\x00")
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth("Password\x00")
        if not isinstance(password, bytes):
            return AuthResult(success=False, handled=True)
        return await self._login(server, login, password, "LOGIN")

    async def _bearer(self, server: MssSMTP, args: list[str], mechanism: str) -> AuthResult:
        blob = await self._response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        text = blob.decode("utf-8", "replace")
        user, token = _parse_bearer(text, mechanism)
        login = journal_login(user)  # the only form of ``user`` that is echoed or journaled
        error, rule, mailbox_address = None, None, None
        journal_error: str | None = None  # what the journal says when it must not repeat ``error``
        if not token:
            error, rule = "no bearer token in the SASL message (fields separated by ^A)", "MSS:auth.syntax"
        elif user and login == "-":
            error, rule = "the SASL user is not a mailbox address", "MSS:auth.syntax"
        else:
            from app.psc.service import TokenError

            async with self.app.state.sessionmaker() as session, session.begin():
                try:
                    from app.psc.service import authenticate_access_token

                    professional = await authenticate_access_token(session, self.settings, token)
                except TokenError as exc:
                    error, rule = exc.description, exc.rule
                    journal_error = "PSC access token refused"  # the rule says which check
                else:
                    mailbox = await service.get_mailbox(session, login) if user else None
                    if user and mailbox is None:
                        error, rule = f"unknown mailbox {login}", "MSS:auth.mailbox"
                    elif mailbox is not None and not service.may_use(mailbox, professional.subject_name_id):
                        error = (f"the PSC token of {professional.subject_name_id} does not own mailbox "
                                 f"{mailbox.address}")
                        rule = "MSS:auth.owner"
                    else:
                        owned = await service.mailboxes_of(session, professional.subject_name_id)
                        if mailbox is None and not owned:
                            error, rule = "the professional has no MSSanté mailbox", "MSS:auth.mailbox"
                        mailbox_address = (mailbox.address if mailbox else owned[0].address if owned else None)
        if error:
            server.last_rule = rule
            await self.journal(server, method="AUTH", outcome="refused", status=535, rule=rule,
                               detail=f"{mechanism} {login}: {journal_error or error}", operation="mss.smtp.auth")
            # RFC 7628 §3.2.2 / XOAUTH2: an error challenge, the client answers (^A or empty), then 535.
            challenge = json.dumps({"status": "invalid_token", "schemes": "bearer",
                                    "scope": "openid scope_all"})
            await server.challenge_auth(challenge)
            return AuthResult(success=False, handled=False,
                              message=f"535 5.7.8 Authentication credentials invalid: {error}")
        server.identity = {"kind": "psc", "login": (mailbox_address or "").lower(),
                           "subject": professional.subject_name_id, "mechanism": mechanism, "token": token}
        return AuthResult(success=True, auth_data=LoginPassword((mailbox_address or "").encode(), b""))

    async def _fault(self, server: MssSMTP, addresses_: list[str], stage: str) -> str | None:
        """A scripted failure (``POST /sandbox/v1/mailboxes/{address}/faults``) for this stage, if one is
        pending; the pending set is cached per connection like the lookups."""
        candidates = []
        for address in addresses_:
            stages = await server.cached(("faults", address.lower()), lambda a=address: self._pending(a))
            if stage in stages:
                candidates.append(address)
        if not candidates:
            return None
        async with self.app.state.sessionmaker() as db, db.begin():
            fault = await service.consume_fault(db, addresses_=candidates, stage=stage)
            if fault is None:
                return None
            reply, disconnect = fault.reply, fault.disconnect
        for address in candidates:
            server.lookups.pop(("faults", address.lower()), None)
        server.last_rule = "MSS:fault-injection"
        await self.journal(server, method=stage, outcome="refused" if reply[:1] in "45" else "ok",
                           status=_reply_code(reply), rule="MSS:fault-injection",
                           detail=f"scripted: {reply}", operation=f"mss.smtp.{stage.lower()}")
        if disconnect:
            asyncio.get_running_loop().call_soon(_close, server)
        return reply

    async def _pending(self, address: str) -> set[str]:
        async with self.app.state.sessionmaker() as db:
            return await service.pending_stages(db, address)

    async def _lookup(self, address: str) -> tuple[Any, Any]:
        if "@" not in address:
            return None, None
        async with self.app.state.sessionmaker() as db:
            return await service.lookup(db, address)

    async def _check_recipient(self, address: str) -> service.RecipientVerdict:
        async with self.app.state.sessionmaker() as db, db.begin():  # may create a PER mailbox on the fly
            return await service.check_recipient(db, address)

    async def _psc_session_ended(self, server: MssSMTP) -> str | None:
        identity = server.identity
        if not identity or identity.get("kind") != "psc":
            return None
        from app.psc.service import TokenError, authenticate_access_token

        async with self.app.state.sessionmaker() as session:
            try:
                await authenticate_access_token(session, self.settings, identity["token"])
            except TokenError as exc:
                return exc.rule or "MSS:auth.psc-ended"
        return None

    async def auth_XOAUTH2(self, server: MssSMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: MssSMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER")

    # -- envelope --
    async def handle_MAIL(self, server: MssSMTP, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        params = server.pending_mail_params
        address = address or ""
        reply, rule = None, None
        ended = await self._psc_session_ended(server)
        if ended:
            # SC.MSS/CONF.10/.11: the PSC token behind this session is no longer valid (expired, revoked,
            # PSC logout): the operator ends the session; the client must re-authenticate and reconnect.
            server.last_rule = ended
            await self.journal(server, method="MAIL", outcome="refused", status=421, rule=ended,
                               detail="PSC token no longer valid: session ended", operation="mss.smtp.mail")
            asyncio.get_running_loop().call_soon(_close, server)
            return "421 4.7.0 PSC access token no longer valid (expired or revoked): session ended, reconnect"
        if address and (scripted := await self._fault(server, [address], "MAIL")):
            return scripted
        if address:
            domain, mailbox = await server.cached(("lookup", address.lower()), lambda: self._lookup(address))
            identity = server.identity
            if domain is None:
                reply = (f"550 5.7.1 <{address}>: sender domain is outside the MSSanté trust space "
                         "(not on the ANS list of authorised domains)")
                rule = "MSS:trust-space.sender"
            elif domain.role == "external":
                pass  # another operator hands over mail for our mailboxes (inter-operator link)
            elif identity is None:
                reply = "530 5.7.0 Authentication required to send from a mailbox of this operator"
                rule = "MSS:auth.required"
            elif mailbox is None:
                reply = f"553 5.1.8 <{address}>: unknown sender mailbox"
                rule = "MSS:sender.unknown"
            elif identity["kind"] == "password" and identity["login"] != mailbox.address.lower():
                reply = f"553 5.7.1 <{address}>: sender address not owned by the authenticated user"
                rule = "MSS:sender.owner"
            elif identity["kind"] == "psc" and not service.may_use(mailbox, identity["subject"]):
                reply = f"553 5.7.1 <{address}>: the PSC professional does not own this mailbox"
                rule = "MSS:sender.owner"
        if reply:
            server.last_rule = rule
            await self.journal(server, method="MAIL", outcome="refused", status=int(reply[:3]), rule=rule,
                               detail=reply[4:], operation="mss.smtp.mail")
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        server.dsn_mail = params
        server.sender_mailbox = mailbox if address else None
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: MssSMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        verdict = await server.cached(("rcpt", address.lower()), lambda: self._check_recipient(address))
        if verdict.accepted and (scripted := await self._fault(server, [address], "RCPT")):
            return scripted
        if not verdict.accepted:
            server.last_rule = verdict.rule
            await self.journal(server, method="RCPT", outcome="refused", status=int(verdict.reply[:3]),
                               rule=verdict.rule, detail=verdict.reply[4:], operation="mss.smtp.rcpt")
            return verdict.reply or "550 5.1.1 refused"
        if len(envelope.rcpt_tos) >= 100:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        server.dsn_rcpt[address] = server.pending_rcpt_params.get("NOTIFY")
        server.verdicts[address] = verdict
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: MssSMTP, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or b""
        smtp_envelope = service.Envelope(
            mail_from=envelope.mail_from or "",
            recipients=[(r, server.dsn_rcpt.get(r)) for r in envelope.rcpt_tos],
            transport="smtp",
            auth_identity=server.identity.get("login") if server.identity else None,
            envelope_id=server.dsn_mail.get("ENVID"),
        )
        raw = _received_header(server, envelope) + raw
        if scripted := await self._fault(server, list(envelope.rcpt_tos), "DATA"):
            return scripted
        journal_detail = ""
        verdicts = [server.verdicts[r] for r in envelope.rcpt_tos]
        message: service.StoredMessage | None = None
        try:
            autocommit = self.autocommit_sessions()
            if autocommit is not None:
                # PostgreSQL: the reads in autocommit (each sees what is committed, as each statement of a
                # READ COMMITTED transaction would), then the message and its deliveries in one statement,
                # atomic by itself; when notifications are due, one transaction stores everything.
                async with autocommit() as db:
                    analysis = await service.analyse(db, self.settings, raw, smtp_envelope, verdicts=verdicts,
                                                     sender=server.sender_mailbox, sender_known=True)
                    if analysis.report.refusal is None:
                        message = await service.store_at_once(db, self.settings, raw, smtp_envelope, analysis)
                if analysis.report.refusal is None and message is None:
                    async with self.app.state.sessionmaker() as db, db.begin():
                        message = await service.store(db, self.settings, raw, smtp_envelope, analysis)
            else:
                async with self.app.state.sessionmaker() as db, db.begin():
                    analysis = await service.analyse(db, self.settings, raw, smtp_envelope, verdicts=verdicts,
                                                     sender=server.sender_mailbox, sender_known=True)
                    if analysis.report.refusal is None:
                        message = await service.store(db, self.settings, raw, smtp_envelope, analysis)
            refusal = analysis.report.refusal
            if refusal is not None:
                rule, finding = refusal
                reply = f"{rule.reply} Message refused by rule {rule.id} ({rule.source}): {finding.message}"
                reply = reply.replace("\r", " ").replace("\n", " ")[:500]
                # The finding may quote the message (a header, an XDM entry name): the journal gets the
                # rule only, never content of the message.
                journal_detail = f"{rule.reply[4:]} Message refused by rule {rule.id} ({rule.source})"
            else:
                assert message is not None
                uid = message.uid
                reply = f"250 2.0.0 OK queued as {uid}"
        except Exception as exc:
            # The exception's text may quote the message: log its type and where it happened, not its text.
            logger.error("SMTP DATA failed (%s); nothing stored\n%s", type(exc).__name__,
                         "".join(traceback.format_tb(exc.__traceback__)))
            server.last_rule = "MSS:internal"
            await self.journal(server, method="DATA", outcome="error", status=451, rule="MSS:internal",
                               detail="unexpected error; nothing stored", operation="mss.smtp.data")
            return "451 4.3.0 Temporary failure while storing the message; nothing was stored, try again"
        if refusal is not None:
            server.last_rule = f"MSS:{refusal[0].id}"
            await self.journal(server, method="DATA", outcome="refused", status=int(reply[:3]),
                               rule=f"MSS:{refusal[0].id}", detail=journal_detail, operation="mss.smtp.data")
            return reply
        server.accepted += 1
        failures = analysis.report.summary()["fail"]
        await self.journal(server, method="DATA", outcome="ok", status=250, rule=None,
                           detail=f"message {uid} size={len(raw)} rcpt={len(envelope.rcpt_tos)} "
                                  f"findings_failed={failures}", operation="mss.smtp.data")
        return reply


def _parse_bearer(text: str, mechanism: str) -> tuple[str | None, str | None]:
    """XOAUTH2 ``user=<u>^Aauth=Bearer <t>^A^A``; OAUTHBEARER (RFC 7628 §3.1) ``n,a=<u>,^A...auth=Bearer <t>^A^A``."""
    user = token = None
    fields = text.split("\x01")
    if mechanism == "OAUTHBEARER" and fields:
        gs2 = fields[0].split(",")
        for item in gs2:
            if item.startswith("a="):
                user = item[2:].replace("=2C", ",").replace("=3D", "=")
        fields = fields[1:]
    for item in fields:
        if item.startswith("user="):
            user = item[5:]
        elif item.lower().startswith("auth="):
            value = item[5:]
            if value.lower().startswith("bearer "):
                token = value[7:].strip()
    return user, token


def _received_header(server: MssSMTP, envelope: Any) -> bytes:
    """RFC 5321 §4.4 trace field prepended to what is stored."""
    peer = _peer(server.session.peer if server.session else None) or "unknown"
    helo = getattr(server.session, "host_name", None) or "unknown"
    with_ = "ESMTPSA" if server.identity else "ESMTP"
    if server._tls_protocol is not None:
        with_ = with_.replace("ESMTP", "ESMTPS")
    now = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    hostname = server.mss.settings.mss_smtp_hostname
    return f"Received: from {helo} ({peer}) by {hostname} (Segur Sandbox) with {with_}; {now}\r\n".encode()


# --- the listener ---------------------------------------------------------------------------------

def _factory(app: FastAPI, handler: MssHandler, tls: ssl.SSLContext, *, implicit: bool):  # type: ignore[no-untyped-def]
    settings = app.state.settings

    def make() -> MssSMTP:
        return MssSMTP(
            handler,
            hostname=settings.mss_smtp_hostname,
            ident="Segur Sandbox MSSante operator",
            data_size_limit=settings.mss_max_message_bytes,
            enable_SMTPUTF8=True,
            tls_context=None if implicit else tls,
            require_starttls=False,
            auth_required=False,
            auth_require_tls=False if implicit else settings.mss_smtp_auth_require_tls,
            authenticator=lambda *a: AuthResult(success=False),
            command_call_limit=None,
        )

    return make


def _forget_on_store_change(database_url: str, handler: MssHandler) -> None:
    """Subscribe ``handler`` (weakly: an app that stops does not stay alive) to the store's resets and to
    the changes of mailboxes and scripted faults (:data:`service.TOPIC_LOOKUPS`), from any worker."""
    from app.events import TOPIC_RESET, events_for

    ref = weakref.ref(handler)

    def on_change(key: str) -> None:
        live = ref()
        if live is not None:
            live.forget(key)

    events = events_for(database_url)
    events.subscribe(TOPIC_RESET, on_change)
    events.subscribe(service.TOPIC_LOOKUPS, on_change)


@contextlib.asynccontextmanager
async def smtp_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the SMTP listener(s) on the running loop; publish ``app.state.smtp_port`` (and
    ``app.state.smtps_port``); stop them on shutdown."""
    settings = app.state.settings
    loop = asyncio.get_running_loop()
    # aiosmtpd warns on every AUTH that it sets its own deprecated attribute; not our concern.
    mail_log = logging.getLogger("mail.log")
    if not any(getattr(f, "mss", False) for f in mail_log.filters):
        quiet = _QuietLoginData()
        mail_log.addFilter(quiet)
    if settings.mss_tls_cert_file and settings.mss_tls_key_file:
        cert_pem = await asyncio.to_thread(Path(settings.mss_tls_cert_file).read_bytes)
        key_pem = await asyncio.to_thread(Path(settings.mss_tls_key_file).read_bytes)
    else:
        cert_pem, key_pem = await service.shared_tls_key(
            app.state.sessionmaker,
            lambda: asyncio.to_thread(generate_test_certificate, settings.mss_smtp_hostname))
    ca_cert, ca_key = await service.shared_tls_key(
        app.state.sessionmaker, lambda: asyncio.to_thread(generate_test_ca), name="client-ca")
    tls = server_tls_context(cert_pem, key_pem, ca_cert)
    app.state.mss_tls_certificate = cert_pem
    app.state.mss_client_ca = (ca_cert, ca_key)
    handler = MssHandler(app)
    _forget_on_store_change(settings.database_url, handler)
    servers = []
    # reuse_port: with several uvicorn workers, each worker's loop serves the same SMTP port.
    server = await loop.create_server(_factory(app, handler, tls, implicit=False),
                                      host=settings.smtp_host, port=settings.smtp_port, reuse_port=REUSE_PORT)
    servers.append(server)
    app.state.smtp_port = server.sockets[0].getsockname()[1]
    app.state.smtps_port = None
    if settings.mss_smtp_tls_port is not None:
        smtps = await loop.create_server(_factory(app, handler, tls, implicit=True), host=settings.smtp_host,
                                         port=settings.mss_smtp_tls_port, ssl=tls, reuse_port=REUSE_PORT)
        servers.append(smtps)
        app.state.smtps_port = smtps.sockets[0].getsockname()[1]
    probes = getattr(app.state, "readiness_probes", None)
    if isinstance(probes, dict):
        probes["smtp"] = lambda: all(s.is_serving() for s in servers)
    logger.info("MSSante SMTP listening on %s:%s", settings.smtp_host, app.state.smtp_port)
    try:
        yield
    finally:
        for s in servers:
            s.close()
        for s in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.wait_closed(), timeout=2)
