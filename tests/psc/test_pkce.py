"""PKCE (app/psc/pkce.py, RFC 7636)."""

from __future__ import annotations

from app.psc import pkce


def test_pkce_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce.verify(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")
    assert pkce.verify(verifier, verifier, "plain")
    assert not pkce.verify(verifier, verifier, "S256")
    assert not pkce.verify("short", "short", "plain")
    assert not pkce.verify(verifier, verifier, "S512")
