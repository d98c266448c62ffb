"""Shared builders for the mss tests (pure: no app, no store)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from app.mss import xdm

SAMPLE_CDA = (Path(__file__).resolve().parents[2] / "app/mss/fixtures/sample_cda.xml").read_bytes()
SAMPLE_INS = "275126322074974"


def cda_without_traits() -> bytes:
    """The sample CDA with the INS but without the birth traits: not a qualified INS (Ref #2)."""
    return SAMPLE_CDA.replace(b'<birthTime value="19751231"/>', b"")


def cda_without_ins() -> bytes:
    return SAMPLE_CDA.replace(
        b'<id root="1.2.250.1.213.1.4.8" extension="275126322074974"/>',
        b'<id root="1.2.250.1.999.9" extension="IPP-42"/>',
    )


def make_zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def rezip(
    archive: bytes,
    *,
    drop: tuple[str, ...] = (),
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
) -> bytes:
    """A copy of ``archive`` with entries dropped, replaced or added."""
    replace = replace or {}
    entries: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        for name in zf.namelist():
            if name in drop:
                continue
            entries[name] = replace.get(name, zf.read(name))
    entries.update(add or {})
    return make_zip(entries)


def sample_xdm(cda: bytes = SAMPLE_CDA, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
    return xdm.build_xdm(cda, pdf=b"%PDF-1.4\n% Segur Sandbox test\n", **kwargs)


def build_message(
    *,
    sender: str = "Dr Jean MARTIN <jean.martin@medecin.mssante.fr>",
    to: str = "marie.durand@hopital-a.mssante.fr",
    subject: str = "XDM/1.0/DDM+Compte rendu ADRUN ZOE 19751231",
    body: str = "Veuillez trouver le compte rendu ci-joint.",
    xdm_bytes: bytes | None = None,
    headers: dict[str, str] | None = None,
    nil: str | None = "NIL-TEST-0001",
    auto_headers: bool = True,
    pdf: bool = False,
) -> bytes:
    """An RFC 5322 message as an LPS would send it. ``auto_headers`` sets X-MSS-CODECDA / X-MSS-INS
    from the XDM."""
    from datetime import UTC, datetime
    from email import policy
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="sandbox.test")
    if nil is not None:
        msg["X-MSS-NIL"] = nil
    if xdm_bytes is not None and auto_headers:
        package = xdm.read_xdm(xdm_bytes)
        if package.cda_codes:
            msg["X-MSS-CODECDA"] = ",".join(package.cda_codes)
            msg["X-MSS-INS"] = "O" if package.has_qualified_ins else "N"
    for key, value in (headers or {}).items():
        del msg[key]
        msg[key] = value
    msg.set_content(body)
    if xdm_bytes is not None:
        msg.add_attachment(xdm_bytes, maintype="application", subtype="zip", filename="IHE_XDM.ZIP")
    if pdf:
        msg.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf", filename="CR.pdf")
    return msg.as_bytes(policy=policy.SMTP)
