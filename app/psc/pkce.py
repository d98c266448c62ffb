"""PKCE (RFC 7636). PSC advertises ``code_challenge_methods_supported: [plain, S256]``
(ANS discovery fixture, ``ansforge/psc-edc-proxy-esante`` ``mock_discovery_response.json``)."""

from __future__ import annotations

import hashlib
import hmac
import re

from app.psc.tokens import b64url

METHODS = ("plain", "S256")
# RFC 7636 §4.1: 43..128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def is_valid_verifier(verifier: str) -> bool:
    return _VERIFIER.fullmatch(verifier) is not None  # fullmatch: "$" would allow a final newline


def is_valid_challenge(challenge: str) -> bool:
    """The challenge has the verifier's syntax (for S256 it is 43 base64url characters)."""
    return _VERIFIER.fullmatch(challenge) is not None


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def challenge_for(verifier: str, method: str) -> str:
    if method == "S256":
        return s256(verifier)
    if method == "plain":
        return verifier
    raise ValueError(f"unsupported code_challenge_method {method!r}")


def verify(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636 §4.6, compared in constant time."""
    if method not in METHODS or not is_valid_verifier(verifier):
        return False
    return hmac.compare_digest(challenge_for(verifier, method), challenge)
