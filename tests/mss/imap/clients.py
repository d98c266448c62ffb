"""What the real-client IMAP tests share (``test_clients_*.py``, ``test_autoconfig.py``): a delivery over SMTP, a
second application with the implicit-TLS ports on, external programs (curl, mbsync) run without blocking the
application's loop, certificates, and a reader of IMAP response data to find a part in a BODYSTRUCTURE as a
mail client does."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import re
import shutil
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
APP_BOX = "resultats@labo-b.mssante.fr"
OTHER_APP_BOX = "dpi@hopital-a.mssante.fr"


def require_binary(name: str) -> str:
    """The path of an external client; the test is skipped when it is not installed, except under CI
    (``.ci/run`` installs it) where that is a failure."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed; under CI it must be (.ci/run installs it)", pytrace=False)
        pytest.skip(f"{name} is not installed")
    return path


async def run(*argv: str, limit: float = 30) -> tuple[int, bytes, bytes]:
    """Run a program while the application keeps serving on this loop: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out, err


async def deliver(smtp_call: Any, *, to: str = DOCTOR, sender: str = HOSPITAL_DOCTOR, **message: Any) -> bytes:
    """Deliver one message over SMTP (STARTTLS, AUTH PLAIN), as an LPS sends it; returns what was sent."""
    raw = build_message(sender=f"Dr Sophie BERNARD <{sender}>", to=to, **message)

    def send(smtp: Any) -> Any:
        smtp.login(sender, PASSWORD)
        return smtp.sendmail(sender, [to], raw)

    assert await smtp_call(send) == {}
    return raw


async def listing(client: Any, address: str = DOCTOR) -> list[dict[str, Any]]:
    """The mailbox's messages over the HTTP control API, oldest first."""
    response = await client.get(f"/sandbox/v1/mailboxes/{address}/messages")
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


@asynccontextmanager
async def tls_app(database_url: str) -> AsyncIterator[Any]:
    """A second application on the same store with every listener on: IMAP and SMTP, each with STARTTLS and
    an implicit-TLS port (RFC 8314), all on ephemeral ports."""
    from app.main import create_app
    from tests.conftest import make_settings

    other = create_app(make_settings(database_url, mss_imap_tls_port=0, mss_smtp_tls_port=0))
    async with other.router.lifespan_context(other):
        yield other


def server_context(app: Any) -> ssl.SSLContext:
    """A client TLS context that trusts the sandbox's server certificate (and checks the host name)."""
    return ssl.create_default_context(cadata=app.state.mss_tls_certificate.decode())


def write_pem(directory: Path, name: str, pem: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(pem.encode() if isinstance(pem, str) else pem)
    path.chmod(0o600)
    return path


def self_signed_certificate(address: str) -> tuple[bytes, bytes]:
    """A client certificate naming ``address`` as the sandbox's would (CN and rfc822Name), but self-signed:
    not from the sandbox test CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


async def issue_certificate(client: Any, address: str = APP_BOX) -> dict[str, Any]:
    response = await client.post(f"/sandbox/v1/mailboxes/{address}/certificates")
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- IMAP response data (RFC 3501 §4, §9) ----------------------------------------------------------------

_ATOM = re.compile(rb'[^\s()"{]+')


def parse_data(data: bytes) -> list[Any]:
    """Atoms as ``str``, strings (quoted or literal) as ``bytes``, NIL as None, parenthesised lists as lists."""
    stack: list[list[Any]] = [[]]
    i = 0
    while i < len(data):
        c = data[i:i + 1]
        if c in (b" ", b"\r", b"\n"):
            i += 1
        elif c == b"(":
            stack.append([])
            i += 1
        elif c == b")":
            done = stack.pop()
            stack[-1].append(done)
            i += 1
        elif c == b'"':
            j, buffer = i + 1, bytearray()
            while data[j:j + 1] != b'"':
                if data[j:j + 1] == b"\\":
                    j += 1
                buffer += data[j:j + 1]
                j += 1
            stack[-1].append(bytes(buffer))
            i = j + 1
        elif c == b"{":
            j = data.index(b"}", i)
            size, start = int(data[i + 1:j].rstrip(b"+")), j + 3  # "}\r\n"
            stack[-1].append(data[start:start + size])
            i = start + size
        else:
            match = _ATOM.match(data, i)
            assert match is not None, data[i:i + 40]
            atom = match.group().decode()
            stack[-1].append(None if atom.upper() == "NIL" else atom)
            i = match.end()
    return stack[0]


def fetch_items(data: bytes) -> dict[str, Any]:
    """``* 3 FETCH (UID 7 BODYSTRUCTURE (...))`` (or the part after ``FETCH``) as {"UID": "7", ...}."""
    tokens = parse_data(data)
    items = next(t for t in tokens if isinstance(t, list))
    return {str(k).upper(): v for k, v in zip(items[::2], items[1::2], strict=True)}


def find_part(structure: list[Any], filename: str, path: tuple[int, ...] = ()) -> str | None:
    """The section number ("2", "1.3") of the leaf part named ``filename`` (its Content-Type ``name`` or its
    Content-Disposition ``filename``) in a BODYSTRUCTURE (RFC 3501 §7.4.2), as a mail client finds it."""
    if structure and isinstance(structure[0], list):  # multipart: the children, then the subtype
        for index, child in enumerate(itertools.takewhile(lambda c: isinstance(c, list), structure), start=1):
            found = find_part(child, filename, (*path, index))
            if found:
                return found
        return None
    names: set[str] = set()

    def collect(params: Any) -> None:
        if isinstance(params, list):
            for key, value in zip(params[::2], params[1::2], strict=False):
                if isinstance(key, bytes) and key.lower() in (b"name", b"filename") and isinstance(value, bytes):
                    names.add(value.decode().upper())

    collect(structure[2] if len(structure) > 2 else None)
    for item in structure[7:]:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], bytes):
            collect(item[1])  # body-fld-dsp: ("attachment" ("filename" "..."))
    return ".".join(map(str, path or (1,))) if filename.upper() in names else None
