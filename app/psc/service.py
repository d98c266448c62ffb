"""The PSC domain's public interface: what the other domains, the CLI and the faces call. The code lives in
the concept modules (see the package docstring); this module names what may be used from outside.

Other domains use :func:`authenticate_access_token` (with :class:`TokenError`), :func:`list_professionals`
and :func:`fixture_professional`; the CLI :func:`rotate_signing_key`; the platform :func:`seed`; the web
console (``app/console``) the clients, sessions and CIBA requests the control API shows and changes, through the
same functions (:func:`create_client`, :func:`list_clients`, :func:`list_sessions`, :func:`list_ciba`,
:func:`decide_ciba`) and the realm's URLs (:func:`issuer`, :func:`authorize_url`)."""

from __future__ import annotations

from app.psc.clients import create_client, list_clients
from app.psc.exceptions import ControlRefusal, TokenError
from app.psc.grants.ciba import decide_ciba, list_ciba
from app.psc.professionals import get_professional, list_professionals
from app.psc.realm import authorize_url, issuer
from app.psc.schemas import ClientCreate
from app.psc.seed import fixture_professional, seed
from app.psc.sessions import list_sessions
from app.psc.signing import rotate_signing_key
from app.psc.verification import authenticate_access_token

__all__ = [
    "ClientCreate",
    "ControlRefusal",
    "TokenError",
    "authenticate_access_token",
    "authorize_url",
    "create_client",
    "decide_ciba",
    "fixture_professional",
    "get_professional",
    "issuer",
    "list_ciba",
    "list_clients",
    "list_professionals",
    "list_sessions",
    "rotate_signing_key",
    "seed",
]
