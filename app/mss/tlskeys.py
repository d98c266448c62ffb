"""The SMTP listener's generated TLS keys, shared by every worker through the store."""

from __future__ import annotations

import asyncio
from typing import Any

from app.db import utcnow
from app.mss.models import MssTlsKey


async def shared_tls_key(sessionmaker: Any, generate: Any, name: str = "smtp") -> tuple[bytes, bytes]:
    """The generated SMTP test certificate, created once and shared by every worker through the store
    (a second worker racing the first one reads the winner's row)."""
    async with sessionmaker() as session:
        row = await session.get(MssTlsKey, name)
        if row is not None:
            return row.cert_pem.encode(), row.key_pem.encode()
    cert, key = await generate()
    try:
        async with sessionmaker() as session, session.begin():
            session.add(MssTlsKey(name=name, cert_pem=cert.decode(), key_pem=key.decode(), created_at=utcnow()))
        return cert, key
    except Exception:  # another worker inserted it first
        async with sessionmaker() as session:
            row = await session.get(MssTlsKey, name)
            if row is None:
                raise
            return row.cert_pem.encode(), row.key_pem.encode()


async def sandbox_ca(sessionmaker: Any) -> tuple[bytes, bytes]:
    """The sandbox's test CA (stands in for IGC-Santé): the one that issues APP mailboxes' client certificates
    (SC.MSS/CONF.12) and the DMP's VIHF signing certificates; created once in the store (the SMTP listener's
    ``client-ca`` row), so it exists even with SMTP off."""
    from app.mss.smtp.tls import generate_test_ca

    return await shared_tls_key(sessionmaker, lambda: asyncio.to_thread(generate_test_ca), name="client-ca")
