"""The PSC domain's public interface: what the other domains, the CLI and the faces call. The code lives in
the concept modules (see the package docstring); this module names what may be used from outside.

Other domains use :func:`authenticate_access_token` (with :class:`TokenError`), :func:`list_professionals`
and :func:`fixture_professional`; the CLI :func:`rotate_signing_key`; the platform :func:`seed`."""

from __future__ import annotations

from app.psc.exceptions import TokenError
from app.psc.professionals import get_professional, list_professionals
from app.psc.seed import fixture_professional, seed
from app.psc.signing import rotate_signing_key
from app.psc.verification import authenticate_access_token

__all__ = [
    "TokenError",
    "authenticate_access_token",
    "fixture_professional",
    "get_professional",
    "list_professionals",
    "rotate_signing_key",
    "seed",
]
