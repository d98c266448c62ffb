"""PSC clients: registration (RFC 7591 metadata checks), lookup and its per-worker cache, client
authentication at the token, introspection, revocation and CIBA endpoints (RFC 6749 §2.3, OIDC Core §9,
RFC 7523), and what a client may ask for (grant types, scopes)."""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.events import publish
from app.psc import tokens
from app.psc.exceptions import (
    ClientExists,
    InvalidClient,
    InvalidClientMetadata,
    InvalidRequest,
    InvalidScope,
    TokenError,
    UnauthorizedClient,
    UnknownClient,
)
from app.psc.grants import GRANT_CIBA
from app.psc.keys import import_jwk
from app.psc.memory import (
    TOPIC_CLIENT,
    CachedClient,
    cached_client,
    clear_client_cache,
    keep_client,
    read_client,
)
from app.psc.models import Client, RevokedToken
from app.psc.realm import endpoint, issuer
from app.psc.schemas import ClientCreate
from app.psc.storage import epoch, from_epoch, sha256_hex, usable_id
from app.tenancy import DEFAULT_TENANT, current_tenant

if TYPE_CHECKING:
    from app.config import Settings

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")

ClientLike = Client | CachedClient
"""A client row, or its cached snapshot (what the token endpoint authenticates)."""


# --- registration ---------------------------------------------------------------------------------


def client_row(data: ClientCreate) -> Client:
    metadata = data.model_dump(exclude={"client_secret"}, exclude_none=True)
    return Client(
        client_id=data.client_id,
        secret_sha256=sha256_hex(data.client_secret) if data.client_secret else None,
        token_endpoint_auth_method=data.token_endpoint_auth_method,
        access_token_alg=data.access_token_signed_response_alg,
        client_metadata=metadata,
        created_at=utcnow(),
    )


def client_document(row: Client, *, secret: str | None = None) -> dict[str, Any]:
    doc = dict(row.client_metadata)
    doc["client_id"] = row.client_id
    doc["client_id_issued_at"] = epoch(row.created_at)
    if secret is not None:
        doc["client_secret"] = secret
        doc["client_secret_expires_at"] = 0
    return doc


MAX_REDIRECT_URI = 2048
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*")
_HOST = re.compile(r"[A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\]")
_PORT = re.compile(r"[0-9]{1,5}")


def redirect_uri_problem(uri: object) -> str | None:
    """Why ``uri`` may not be registered as a redirect URI, or None.

    http(s) with a host, or a private-use scheme of a native app (RFC 8252 §7.1: a reverse domain name,
    so it contains a dot, e.g. ``fr.vendor.app:/cb``). Never ``javascript:``, ``data:``, ``vbscript:``,
    ``file:`` (a form_post page would run or load them on the sandbox origin). No fragment (RFC 6749
    §3.1.2), no whitespace or control characters; the host is plain so it can go into a CSP header."""
    if not isinstance(uri, str) or not uri:
        return "not a string"
    if len(uri) > MAX_REDIRECT_URI:
        return f"longer than {MAX_REDIRECT_URI} characters"
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in uri) or "\\" in uri:
        return "contains whitespace, control characters or backslashes"
    if "#" in uri:
        return "must not have a fragment"
    scheme, colon, rest = uri.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme.lower()):
        return "not an absolute URI"
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        try:
            parts = urlsplit(uri)
        except ValueError:
            return "not a valid URL"
        if not rest.startswith("//") or not parts.netloc:
            return "an http(s) redirect URI needs a host"
        host, _, port = parts.netloc.rpartition(":") if not parts.netloc.endswith("]") else (parts.netloc, "", "")
        if not host:
            host, port = parts.netloc, ""
        if "@" in parts.netloc or not _HOST.fullmatch(host) or (port and not _PORT.fullmatch(port)):
            return "the host must be a plain host name or IP address (no user information)"
        return None
    if "." not in scheme:
        return "only http, https or a private-use reverse-domain scheme (RFC 8252 §7.1, e.g. fr.vendor.app:/cb)"
    if not rest:
        return "a private-use scheme URI needs a path"
    return None


def redirect_origin(uri: str) -> str:
    """The CSP source for a validated redirect URI: ``scheme://host[:port]`` or ``scheme:``."""
    parts = urlsplit(uri)
    if parts.scheme.lower() in ("http", "https"):
        return f"{parts.scheme.lower()}://{parts.netloc}"
    return parts.scheme.lower() + ":"


def jwks_problem(jwks: object) -> str | None:
    """Why ``jwks`` is not a usable JWK Set of public signing keys, or None: every key must import."""
    if not isinstance(jwks, dict):
        return "must be an object"
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return 'must have a "keys" array'
    if len(keys) > 20:
        return "at most 20 keys"
    for i, key in enumerate(keys):
        if not isinstance(key, dict):
            return f"keys[{i}] is not an object"
        if "d" in key or "p" in key or "q" in key:
            return f"keys[{i}] holds private key material"
        if "kid" in key and not isinstance(key["kid"], str):
            return f"keys[{i}].kid must be a string"
        try:
            import_jwk(key)
        except Exception:  # joserfc raises ValueError, KeyError, TypeError... on a bad key
            return f"keys[{i}] is not a valid RSA or EC public key"
    return None


async def create_client(session: AsyncSession, *, data: ClientCreate) -> dict[str, Any]:
    """RFC 7591 §3.2.1 answer: the registered metadata, with the secret shown this once."""
    data = data.model_copy()
    if data.client_id is None:
        data.client_id = "sandbox-" + uuid.uuid4().hex[:12]
    if data.token_endpoint_auth_method in SECRET_METHODS and not data.client_secret:
        data.client_secret = secrets.token_urlsafe(32)
    if data.token_endpoint_auth_method == "private_key_jwt" and not (data.jwks and data.jwks.get("keys")):
        raise InvalidClientMetadata("private_key_jwt needs jwks with at least one key", rule="PSC:client.jwks")
    if data.token_endpoint_auth_method == "none":
        data.client_secret = None
        if "client_credentials" in data.grant_types or GRANT_CIBA in data.grant_types:
            raise InvalidClientMetadata(
                "a public client cannot use client_credentials or CIBA", rule="PSC:client.public"
            )
    for uri in [*data.redirect_uris, *data.post_logout_redirect_uris]:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise InvalidClientMetadata(
                f"{uri[:200]!r}: {problem}", rule="PSC:client.redirect_uri", error="invalid_redirect_uri"
            )
    if data.jwks is not None:
        problem = jwks_problem(data.jwks)
        if problem is not None:
            raise InvalidClientMetadata(f"jwks: {problem}", rule="PSC:client.jwks")
    if await session.get(Client, (current_tenant(), data.client_id)) is not None:
        raise ClientExists(f"client {data.client_id!r} is already registered", rule="PSC:client.exists")
    row = client_row(data)
    session.add(row)
    await session.flush()
    clear_client_cache()
    await publish(session, TOPIC_CLIENT, row.client_id)  # the other workers' client caches
    return client_document(row, secret=data.client_secret)


async def list_clients(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(Client).order_by(Client.client_id))).all()
    return [client_document(row) for row in rows]


async def get_client(session: AsyncSession, *, client_id: str, settings: Settings | None = None) -> Any:
    """The client, from a per-worker cache of ``psc_client_cache_ttl`` seconds when ``settings`` is given
    (the token endpoint's hot path: no query at all on a hit). Reset and client creation clear it."""
    if not usable_id(client_id):
        return None
    if settings is None or settings.psc_client_cache_ttl <= 0:
        return await session.get(Client, (current_tenant(), client_id))
    hit = cached_client(settings, client_id)
    if hit is not None:
        return hit
    return await read_client(settings, client_id, lambda: _client_snapshot(session, settings, client_id))


async def _client_snapshot(session: AsyncSession, settings: Settings, client_id: str) -> CachedClient | None:
    row = await session.get(Client, (current_tenant(), client_id))
    if row is None:
        return None
    snapshot = CachedClient(
        row.client_id,
        row.secret_sha256,
        row.token_endpoint_auth_method,
        row.access_token_alg,
        dict(row.client_metadata),
    )
    keep_client(settings, snapshot)
    return snapshot


async def load_client(session: AsyncSession, *, client_id: str) -> Client:
    """The client row, or :class:`UnknownClient`."""
    row = await get_client(session, client_id=client_id)
    if row is None:
        raise UnknownClient(f"no client {client_id!r}", rule="PSC:client.unknown")
    return row  # type: ignore[no-any-return]


# --- what a client may ask for -------------------------------------------------------------------


def client_allows_grant(client: ClientLike, grant_type: str) -> bool:
    return grant_type in client.client_metadata.get("grant_types", [])


def require_grant(client: ClientLike, grant_type: str) -> None:
    """RFC 6749 §5.2 ``unauthorized_client``: the client did not register ``grant_type``."""
    if not client_allows_grant(client, grant_type):
        raise UnauthorizedClient(
            f"client {client.client_id} may not use {grant_type}", rule="PSC:token.unauthorized_client"
        )


def granted_scope(client: ClientLike, requested: str | None, *, default: str = "openid scope_all") -> str:
    allowed = set(str(client.client_metadata.get("scope", "")).split())
    wanted = (requested or default).split()
    unknown = [s for s in wanted if s not in allowed]
    if unknown:
        raise InvalidScope(f"scope not allowed for this client: {' '.join(unknown)}", rule="PSC:scope")
    return " ".join(dict.fromkeys(wanted))


# --- client authentication -----------------------------------------------------------------------


async def authenticate_client(
    session: AsyncSession,
    settings: Settings,
    *,
    authorization: str | None,
    form: Mapping[str, str],
    allow_public: bool = True,
) -> ClientLike:
    """client_secret_basic, client_secret_post, private_key_jwt (RFC 6749 §2.3, OIDC Core §9), or a
    public client naming itself. One query; secrets compared as SHA-256 digests in constant time."""
    basic = authorization is not None and authorization[:6].lower() == "basic "
    secret: str | None = None
    assertion: str | None = None
    if basic:
        try:
            raw = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")  # type: ignore[index]
            user, _, password = raw.partition(":")
            client_id, secret = unquote(user), unquote(password)
        except (ValueError, UnicodeDecodeError):
            raise InvalidClient("malformed HTTP Basic credentials", rule="PSC:client.basic", basic=True) from None
        if form.get("client_secret") or form.get("client_assertion"):
            raise InvalidRequest("use only one client authentication method", rule="PSC:client.auth_methods")
    elif form.get("client_assertion_type"):
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not form.get("client_assertion"):
            raise InvalidClient("unsupported client_assertion_type", rule="PSC:client_assertion.type", basic=False)
        assertion = form["client_assertion"]
        try:
            claims = tokens.unverified_claims(assertion)
        except TokenError as exc:
            raise InvalidClient(
                f"malformed client_assertion: {exc.description}", rule="PSC:client_assertion.malformed", basic=False
            ) from None
        client_id = form.get("client_id") or claims.get("sub") or ""
        if not isinstance(client_id, str):
            raise InvalidClient(
                "client_assertion sub is not a string", rule="PSC:client_assertion.malformed", basic=False
            )
    else:
        client_id = form.get("client_id", "")
        secret = form.get("client_secret")
    if not client_id:
        raise InvalidClient("client authentication required", rule="PSC:client.missing", basic=basic)
    if form.get("client_id") and form["client_id"] != client_id:
        raise InvalidRequest("client_id does not match the authenticated client", rule="PSC:client.mismatch")
    client = await get_client(session, client_id=client_id, settings=settings)
    if client is None:
        raise InvalidClient(f"unknown client {client_id!r}", rule="PSC:client.unknown", basic=basic)
    method = client.token_endpoint_auth_method
    if method == "private_key_jwt":
        if assertion is None:
            raise InvalidClient("this client authenticates with private_key_jwt", rule="PSC:client.method", basic=basic)
        audiences = [  # the current tenant's issuer and endpoints: an assertion made for another tenant is refused
            issuer(settings),
            endpoint(settings, "token"),
            endpoint(settings, "token/introspect"),
            endpoint(settings, "revoke"),
            endpoint(settings, "ext/ciba/auth"),
        ]
        try:
            claims = tokens.verify_client_assertion(
                assertion,
                client.client_metadata.get("jwks") or {},
                client_id=client_id,
                audiences=audiences,
                leeway=settings.psc_leeway,
            )
        except TokenError as exc:
            raise InvalidClient(exc.description, rule=exc.rule, basic=False) from None
        # RFC 7523 §3 item 7: an assertion is used once (in its tenant: the same client_id may be another
        # client in another tenant, and its assertion jtis are its own).
        tenant = current_tenant()
        scope = client_id if tenant == DEFAULT_TENANT else f"{tenant}/{client_id}"
        jti_key = "ca:" + sha256_hex(scope + ":" + claims["jti"])[:61]
        if await session.get(RevokedToken, jti_key) is not None:
            raise InvalidClient(
                "client assertion replayed (jti already used)", rule="PSC:client_assertion.replay", basic=False
            )
        session.add(
            RevokedToken(
                jti=jti_key, reason="client_assertion", revoked_at=utcnow(), expires_at=from_epoch(claims["exp"])
            )
        )
        return client
    if assertion is not None:
        raise InvalidClient("this client is not registered for private_key_jwt", rule="PSC:client.method", basic=False)
    if method == "none":
        if not allow_public:
            raise InvalidClient("a public client cannot use this endpoint", rule="PSC:client.public", basic=basic)
        return client
    if secret is None:
        raise InvalidClient("client secret required", rule="PSC:client.secret", basic=basic)
    if client.secret_sha256 is None or not hmac.compare_digest(sha256_hex(secret), client.secret_sha256):
        raise InvalidClient("bad client credentials", rule="PSC:client.secret", basic=basic)
    return client
