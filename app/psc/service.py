"""PSC service: the only code of the domain that touches the store. Services flush, never commit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import unquote, urlsplit

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import OAuthError, ProblemError
from app.db import as_utc, utcnow
from app.events import publish
from app.psc import tokens
from app.psc.config import REALM_PATH
from app.psc.keys import SIGNING_ALGS, KeyRing, SigningAlg, StoredKey, generate_private_jwk, import_jwk
from app.psc.memory import (
    TOPIC_CLIENT,
    TOPIC_PROFESSIONAL,
    TOPIC_REVOKED,
    CachedProfessional,
    memory_for,
    revoked_key,
)
from app.psc.models import (
    AuthorizationCode,
    CibaRequest,
    Client,
    IssuedToken,
    LoginSession,
    RevokedToken,
    SigningKey,
)
from app.psc.models import Professional as ProfessionalRow
from app.psc.rpps import rpps_from_subject_name_id
from app.psc.schemas import ClientCreate
from app.shared.professional import Professional

if TYPE_CHECKING:
    from app.config import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Keycloak's federated-identity subject is "f:<identity provider UUID>:<national id>" (psc.md §6, §8).
FEDERATION_PROVIDER = "550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_CIBA = "urn:openid:params:grant-type:ciba"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class CachedClient:
    """A read-only snapshot of a client row (what token issuance needs), safe to keep across requests."""

    client_id: str
    secret_sha256: str | None
    token_endpoint_auth_method: str
    access_token_alg: str
    client_metadata: dict[str, Any]


ClientLike = Client | CachedClient


# --- URLs -----------------------------------------------------------------------------------------


def issuer(settings: Settings) -> str:
    return (settings.psc_issuer_base_url or settings.public_base_url) + REALM_PATH


def endpoint(settings: Settings, name: str) -> str:
    return f"{issuer(settings)}/protocol/openid-connect/{name}"


def authorize_url(settings: Settings) -> str:
    return settings.psc_authorize_url or settings.public_base_url + "/auth"


def usable_id(value: object, *, max_length: int = 255) -> TypeGuard[str]:
    """An identifier the store can look up (PostgreSQL refuses NUL characters in text)."""
    return isinstance(value, str) and 0 < len(value) <= max_length and "\x00" not in value


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def epoch(value: datetime) -> int:
    return int(as_utc(value).timestamp())


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


# --- fixtures and seed ----------------------------------------------------------------------------


@cache
def _fixture(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def fixture_professional(subject_name_id: str) -> Mapping[str, Any] | None:
    """The seeded professional ``subject_name_id`` as its fixture describes it (PSC userinfo names), read
    without the store: for the other domains' own fixtures (the DMP's seed documents name their authors)."""
    return next((p for p in _fixture("professionals.json") if p["SubjectNameID"] == subject_name_id), None)


async def seed(session: AsyncSession, settings: Settings) -> None:
    """Idempotent: signing keys if missing, then the fixture clients and professionals."""
    clear_client_cache()
    await ensure_signing_keys(session, settings)
    existing = set((await session.scalars(select(Client.client_id))).all())
    for data in _fixture("clients.json"):
        if data["client_id"] not in existing:
            session.add(_client_row(ClientCreate.model_validate(data)))
    known = set((await session.scalars(select(ProfessionalRow.subject_name_id))).all())
    for data in _fixture("professionals.json"):
        if data["SubjectNameID"] not in known:
            session.add(_professional_row(data))
    await session.flush()


# --- signing keys ---------------------------------------------------------------------------------


@dataclass
class _CachedRing:
    ring: KeyRing
    loaded_at: float


_RINGS: dict[str, _CachedRing] = {}
UNKNOWN_KID_RELOAD_INTERVAL = 1.0
"""Seconds between two reloads of the key ring caused by tokens naming an unknown ``kid`` (per worker)."""


async def ensure_signing_keys(session: AsyncSession, settings: Settings) -> None:
    rows = (await session.scalars(select(SigningKey).where(SigningKey.active.is_(True)))).all()
    have = {row.alg for row in rows}
    for alg in SIGNING_ALGS:
        if alg not in have:
            jwk = generate_private_jwk(alg)
            session.add(SigningKey(kid=jwk["kid"], alg=alg, private_jwk=jwk, active=True, created_at=utcnow()))
    await session.flush()
    if have != set(SIGNING_ALGS):
        _RINGS.pop(settings.database_url, None)


async def get_keyring(session: AsyncSession, settings: Settings, *, reload: bool = False) -> KeyRing:
    """The parsed keys of this store, cached per worker for ``psc_key_cache_ttl`` seconds."""
    cached = _RINGS.get(settings.database_url)
    now = time.monotonic()
    if cached is not None and not reload and now - cached.loaded_at < settings.psc_key_cache_ttl:
        return cached.ring
    cutoff = utcnow()
    rows = (await session.scalars(select(SigningKey).order_by(SigningKey.created_at))).all()
    if not any(row.active for row in rows):
        await ensure_signing_keys(session, settings)
        rows = (await session.scalars(select(SigningKey).order_by(SigningKey.created_at))).all()
    stored = [
        StoredKey(kid=row.kid, alg=row.alg, private_jwk=row.private_jwk, active=row.active)  # type: ignore[arg-type]
        for row in rows
        if row.active or row.publish_until is None or as_utc(row.publish_until) > cutoff
    ]
    ring = KeyRing.build(stored)
    _RINGS[settings.database_url] = _CachedRing(ring, now)
    return ring


async def rotate_signing_key(session: AsyncSession, settings: Settings, alg: SigningAlg = "RS256") -> str:
    """Add a new ``alg`` key and make it the active one; the previous key stays published in the JWKS
    until every token it signed has expired (the longest token lifetime from now), then drops out.
    Returns the new ``kid``. What ``segur-sandbox keys rotate`` calls."""
    longest = (
        max(settings.psc_access_token_ttl, settings.psc_id_token_ttl, settings.psc_refresh_token_ttl)
        + settings.psc_leeway
    )
    publish_until = utcnow() + timedelta(seconds=longest)
    await session.execute(
        update(SigningKey)
        .where(SigningKey.alg == alg, SigningKey.active.is_(True))
        .values(active=False, publish_until=publish_until)
    )
    jwk = generate_private_jwk(alg)
    session.add(SigningKey(kid=jwk["kid"], alg=alg, private_jwk=jwk, active=True, created_at=utcnow()))
    # Keys whose publication window has closed are no longer needed.
    await session.execute(delete(SigningKey).where(SigningKey.active.is_(False), SigningKey.publish_until < utcnow()))
    await session.flush()
    _RINGS.pop(settings.database_url, None)
    return jwk["kid"]


# --- clients --------------------------------------------------------------------------------------


def _client_row(data: ClientCreate) -> Client:
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


def _rfc7591(error: str, description: str) -> dict[str, str]:
    """RFC 7591 §3.2.2 members, next to the problem details members."""
    return {"error": error, "error_description": description}


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
        raise ProblemError(
            400,
            "Invalid client metadata",
            "private_key_jwt needs jwks with at least one key",
            type="urn:ietf:params:oauth:error:invalid_client_metadata",
            rule="PSC:client.jwks",
            extra=_rfc7591("invalid_client_metadata", "private_key_jwt needs jwks with at least one key"),
        )
    if data.token_endpoint_auth_method == "none":
        data.client_secret = None
        if "client_credentials" in data.grant_types or GRANT_CIBA in data.grant_types:
            raise ProblemError(
                400,
                "Invalid client metadata",
                "a public client cannot use client_credentials or CIBA",
                type="urn:ietf:params:oauth:error:invalid_client_metadata",
                rule="PSC:client.public",
                extra=_rfc7591("invalid_client_metadata", "a public client cannot use client_credentials or CIBA"),
            )
    for uri in [*data.redirect_uris, *data.post_logout_redirect_uris]:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise ProblemError(
                400,
                "Invalid redirect URI",
                f"{uri[:200]!r}: {problem}",
                type="urn:ietf:params:oauth:error:invalid_redirect_uri",
                rule="PSC:client.redirect_uri",
                extra=_rfc7591("invalid_redirect_uri", f"{uri[:200]!r}: {problem}"),
            )
    if data.jwks is not None:
        problem = jwks_problem(data.jwks)
        if problem is not None:
            raise ProblemError(
                400,
                "Invalid client metadata",
                f"jwks: {problem}",
                type="urn:ietf:params:oauth:error:invalid_client_metadata",
                rule="PSC:client.jwks",
                extra=_rfc7591("invalid_client_metadata", f"jwks: {problem}"),
            )
    if await session.get(Client, data.client_id) is not None:
        raise ProblemError(
            409, "Client exists", f"client {data.client_id!r} is already registered", rule="PSC:client.exists"
        )
    row = _client_row(data)
    session.add(row)
    await session.flush()
    clear_client_cache()
    await publish(session, TOPIC_CLIENT, row.client_id)  # the other workers' client caches
    return client_document(row, secret=data.client_secret)


async def list_clients(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(Client).order_by(Client.client_id))).all()
    return [client_document(row) for row in rows]


_CLIENTS: dict[tuple[str, str], tuple[float, CachedClient]] = {}


def clear_client_cache() -> None:
    _CLIENTS.clear()


def cached_client(settings: Settings, client_id: str) -> CachedClient | None:
    """The client from this worker's cache only (None on a miss or a stale entry)."""
    hit = _CLIENTS.get((settings.database_url, client_id))
    if hit is None or time.monotonic() - hit[0] >= settings.psc_client_cache_ttl:
        return None
    return hit[1]


async def get_client(session: AsyncSession, *, client_id: str, settings: Settings | None = None) -> Any:
    """The client, from a per-worker cache of ``psc_client_cache_ttl`` seconds when ``settings`` is given
    (the token endpoint's hot path: no query at all on a hit). Reset and client creation clear it."""
    if not usable_id(client_id):
        return None
    if settings is None or settings.psc_client_cache_ttl <= 0:
        return await session.get(Client, client_id)
    key = (settings.database_url, client_id)
    now = time.monotonic()
    hit = _CLIENTS.get(key)
    if hit is not None and now - hit[0] < settings.psc_client_cache_ttl:
        return hit[1]
    row = await session.get(Client, client_id)
    if row is None:
        return None
    snapshot = CachedClient(
        row.client_id,
        row.secret_sha256,
        row.token_endpoint_auth_method,
        row.access_token_alg,
        dict(row.client_metadata),
    )
    if len(_CLIENTS) > 10_000:
        _CLIENTS.clear()
    _CLIENTS[key] = (now, snapshot)
    return snapshot


def client_allows_grant(client: ClientLike, grant_type: str) -> bool:
    return grant_type in client.client_metadata.get("grant_types", [])


def _invalid_client(description: str, rule: str, *, basic: bool) -> OAuthError:
    # RFC 6749 §5.2: 401 + WWW-Authenticate when the client tried HTTP Basic.
    headers = {"WWW-Authenticate": 'Basic realm="esante-wallet"'} if basic else None
    return OAuthError("invalid_client", description, status=401, rule=rule, headers=headers)


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
            raise _invalid_client("malformed HTTP Basic credentials", "PSC:client.basic", basic=True) from None
        if form.get("client_secret") or form.get("client_assertion"):
            raise OAuthError(
                "invalid_request", "use only one client authentication method", rule="PSC:client.auth_methods"
            )
    elif form.get("client_assertion_type"):
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not form.get("client_assertion"):
            raise _invalid_client("unsupported client_assertion_type", "PSC:client_assertion.type", basic=False)
        assertion = form["client_assertion"]
        try:
            claims = tokens.unverified_claims(assertion)
        except tokens.TokenError as exc:
            raise _invalid_client(
                f"malformed client_assertion: {exc.description}", "PSC:client_assertion.malformed", basic=False
            ) from None
        client_id = form.get("client_id") or claims.get("sub") or ""
        if not isinstance(client_id, str):
            raise _invalid_client("client_assertion sub is not a string", "PSC:client_assertion.malformed", basic=False)
    else:
        client_id = form.get("client_id", "")
        secret = form.get("client_secret")
    if not client_id:
        raise _invalid_client("client authentication required", "PSC:client.missing", basic=basic)
    if form.get("client_id") and form["client_id"] != client_id:
        raise OAuthError(
            "invalid_request", "client_id does not match the authenticated client", rule="PSC:client.mismatch"
        )
    client = await get_client(session, client_id=client_id, settings=settings)
    if client is None:
        raise _invalid_client(f"unknown client {client_id!r}", "PSC:client.unknown", basic=basic)
    method = client.token_endpoint_auth_method
    if method == "private_key_jwt":
        if assertion is None:
            raise _invalid_client("this client authenticates with private_key_jwt", "PSC:client.method", basic=basic)
        audiences = [
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
        except tokens.TokenError as exc:
            raise _invalid_client(exc.description, exc.rule, basic=False) from None
        # RFC 7523 §3 item 7: an assertion is used once.
        jti_key = "ca:" + sha256_hex(client_id + ":" + claims["jti"])[:61]
        if await session.get(RevokedToken, jti_key) is not None:
            raise _invalid_client(
                "client assertion replayed (jti already used)", "PSC:client_assertion.replay", basic=False
            )
        session.add(
            RevokedToken(
                jti=jti_key, reason="client_assertion", revoked_at=utcnow(), expires_at=from_epoch(claims["exp"])
            )
        )
        return client
    if assertion is not None:
        raise _invalid_client("this client is not registered for private_key_jwt", "PSC:client.method", basic=False)
    if method == "none":
        if not allow_public:
            raise _invalid_client("a public client cannot use this endpoint", "PSC:client.public", basic=basic)
        return client
    if secret is None:
        raise _invalid_client("client secret required", "PSC:client.secret", basic=basic)
    if client.secret_sha256 is None or not hmac.compare_digest(sha256_hex(secret), client.secret_sha256):
        raise _invalid_client("bad client credentials", "PSC:client.secret", basic=basic)
    return client


# --- professionals --------------------------------------------------------------------------------

_EMPTY_ACTIVITY_FIELDS = (
    "codeModeExercice",
    "codeSecteurDactivite",
    "codeSectionPharmacien",
    "codeRole",
    "codeGenreActivite",
    "numeroSiretSite",
    "numeroSirenSite",
    "numeroFinessSite",
    "numeroFinessetablissementJuridique",
    "identifiantTechniqueDeLaStructure",
    "raisonSocialeSite",
    "enseigneCommercialeSite",
    "complementDestinataire",
    "complementPointGeographique",
    "numeroVoie",
    "indiceRepetitionVoie",
    "codeTypeDeVoie",
    "libelleVoie",
    "mentionDistribution",
    "bureauCedex",
    "codePostal",
    "codeCommune",
    "codePays",
    "telephone",
    "telephone2",
    "telecopie",
    "adresseEMail",
    "codeDepartement",
    "ancienIdentifiantDeLaStructure",
    "autoriteDenregistrement",
)
_EMPTY_EXERCICE_FIELDS = (
    "codeProfession",
    "codeCategorieProfessionnelle",
    "codeCiviliteDexercice",
    "nomDexercice",
    "prenomDexercice",
    "codeTypeSavoirFaire",
    "codeSavoirFaire",
)


def normalise_userinfo(data: Mapping[str, Any]) -> dict[str, Any]:
    """Complete a userinfo document the way PSC shapes it: every known field present, empty as ``""``
    (psc.md §6), ``sub``/``preferred_username``/``SubjectRole`` derived when absent."""
    doc = dict(data)
    sni = str(doc["SubjectNameID"])
    doc.setdefault("sub", f"f:{FEDERATION_PROVIDER}:{sni}")
    doc.setdefault("preferred_username", sni)
    exercices = []
    for exercice in doc.get("SubjectRefPro", {}).get("exercices", []) or []:
        item = {name: exercice.get(name, "") for name in _EMPTY_EXERCICE_FIELDS}
        item["activities"] = [
            {**{name: "" for name in _EMPTY_ACTIVITY_FIELDS}, **act} for act in exercice.get("activities", []) or []
        ]
        exercices.append({**exercice, **item})
    doc["SubjectRefPro"] = {"exercices": exercices}
    first_ex = exercices[0] if exercices else {}
    first_act = first_ex.get("activities", [{}])[0] if first_ex.get("activities") else {}
    if "SubjectRole" not in doc:
        doc["SubjectRole"] = [f"{e['codeProfession']}^1.2.250.1.213.1.1.5.5" for e in exercices if e["codeProfession"]]
    defaults = {
        "codeCivilite": "",
        "SubjectOrganization": first_act.get("raisonSocialeSite", ""),
        "SubjectOrganizationID": first_act.get("identifiantTechniqueDeLaStructure", ""),
        "Secteur_Activite": (
            f"{first_act['codeSecteurDactivite']}^1.2.250.1.71.4.2.4" if first_act.get("codeSecteurDactivite") else ""
        ),
        "codeGenreActivite": first_act.get("codeGenreActivite", ""),
        "Palier_Authentification": "APPPRIP3^1.2.250.1.213.1.5.1.1.1",
        "PSI_Locale": "1.2.250.1.213.1.3.1.1",
        "Acces_Regulation_Medicale": "FAUX",
        "Mode_Acces_Raison": "",
        "UITVersion": "1.0",
    }
    for name, value in defaults.items():
        doc.setdefault(name, value)
    # Real userinfo (prosanteconnect/generate-VIHF VihfBuilderTest.java @004a7ff, RPPS holder): otherIds
    # carries the 12-character national id itself ("8" + RPPS, the same value as SubjectNameID), not the
    # bare RPPS; email_verified is a JSON boolean, false, with no email claim (docs/psc.md, "Userinfo").
    doc.setdefault("email_verified", False)
    if "otherIds" not in doc:
        doc["otherIds"] = [{"identifiant": sni, "origine": national_id_origin(sni), "qualite": 1}]
    return doc


_ADELI_NATIONAL_ID = re.compile(r"0[0-9]{9}")
"""IDNPS of an ADELI holder: ``0`` + the 9-digit ADELI number (mss.md, Annuaire identifier systems)."""


def national_id_origin(subject_name_id: str) -> str:
    """``otherIds[].origine`` of a national id: RPPS (``8`` + RPPS), ADELI (``0`` + ADELI), else EDIT
    (BAS test identities ``ANS…``, ad2ien/prosante-connect-synapse-module tests/test_mapping.py)."""
    if rpps_from_subject_name_id(subject_name_id):
        return "RPPS"
    if _ADELI_NATIONAL_ID.fullmatch(subject_name_id):
        return "ADELI"
    return "EDIT"


def _other_ids_problem(value: Any) -> str | None:
    """otherIds must be a list of {identifiant: str, origine: str, qualite: int} (the samples' shape)."""
    if not isinstance(value, list):
        return "otherIds must be a list"
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            return f"otherIds[{i}] must be an object"
        for name, kind in (("identifiant", str), ("origine", str)):
            if not isinstance(item.get(name), kind):
                return f"otherIds[{i}].{name} must be a string"
        if "qualite" in item and (not isinstance(item["qualite"], int) or isinstance(item["qualite"], bool)):
            return f"otherIds[{i}].qualite must be an integer"
    return None


def _shape_problem(data: Mapping[str, Any]) -> str | None:
    """Why ``data`` is not a userinfo document PSC could send, or None (psc.md §6: strings, "" when empty)."""
    ref = data.get("SubjectRefPro", {"exercices": []})
    if not isinstance(ref, dict) or not isinstance(ref.get("exercices", []), list):
        return "SubjectRefPro must be an object with an exercices list"
    for i, exercice in enumerate(ref.get("exercices", [])):
        if not isinstance(exercice, dict):
            return f"SubjectRefPro.exercices[{i}] must be an object"
        activities = exercice.get("activities", [])
        if not isinstance(activities, list) or not all(isinstance(a, dict) for a in activities):
            return f"SubjectRefPro.exercices[{i}].activities must be a list of objects"
        for name, value in exercice.items():
            if name != "activities" and not isinstance(value, str):
                return f"SubjectRefPro.exercices[{i}].{name} must be a string"
        for j, activity in enumerate(activities):
            for name, value in activity.items():
                if not isinstance(value, str):
                    return f"SubjectRefPro.exercices[{i}].activities[{j}].{name} must be a string"
    if "SubjectRole" in data and not isinstance(data["SubjectRole"], list):
        return "SubjectRole must be a list"
    if "otherIds" in data and (problem := _other_ids_problem(data["otherIds"])) is not None:
        return problem
    if "email_verified" in data and not isinstance(data["email_verified"], bool):
        return "email_verified must be a boolean (true or false)"
    if "sub" in data and not isinstance(data["sub"], str):
        return "sub must be a string"
    return None


def _profession_code(userinfo: Mapping[str, Any]) -> str:
    for exercice in userinfo.get("SubjectRefPro", {}).get("exercices", []):
        if exercice.get("codeProfession"):
            return str(exercice["codeProfession"])
    role = (userinfo.get("SubjectRole") or [""])[0]
    return str(role).split("^", 1)[0]


def _professional_row(data: Mapping[str, Any]) -> ProfessionalRow:
    doc = normalise_userinfo(data)
    sni = doc["SubjectNameID"]
    return ProfessionalRow(
        subject_name_id=sni,
        rpps=rpps_from_subject_name_id(sni),
        given_name=doc.get("given_name", ""),
        family_name=doc.get("family_name", ""),
        profession_code=_profession_code(doc),
        userinfo=doc,
        created_at=utcnow(),
    )


def to_professional(
    row: ProfessionalRow,
    *,
    client_id: str | None = None,
    scopes: Sequence[str] = (),
    claims: Mapping[str, Any] | None = None,
) -> Professional:
    return Professional(
        subject_name_id=row.subject_name_id,
        rpps=row.rpps,
        given_name=row.given_name,
        family_name=row.family_name,
        profession_code=row.profession_code,
        client_id=client_id,
        scopes=tuple(scopes),
        userinfo=row.userinfo,
        token_claims=dict(claims or {}),
    )


async def list_professionals(session: AsyncSession) -> list[Professional]:
    """Every professional of the store (fixtures and those created through the control API)."""
    rows = (await session.scalars(select(ProfessionalRow).order_by(ProfessionalRow.subject_name_id))).all()
    return [to_professional(row) for row in rows]


async def get_professional(session: AsyncSession, *, subject_name_id: str) -> Professional | None:
    row = await professional_row(session, subject_name_id)
    return to_professional(row) if row is not None else None


async def create_professional(session: AsyncSession, *, data: Mapping[str, Any]) -> Professional:
    sni = data.get("SubjectNameID")
    if not usable_id(sni, max_length=64):
        raise ProblemError(
            422, "Invalid professional", 'SubjectNameID is required ("8" + RPPS)', rule="PSC:professional.SubjectNameID"
        )
    if sni.startswith("8") and len(sni) == 12 and rpps_from_subject_name_id(sni) is None:
        raise ProblemError(
            422, "Invalid professional", f"{sni!r}: the RPPS Luhn key is wrong", rule="PSC:professional.rpps_key"
        )
    for name in ("given_name", "family_name"):
        if not isinstance(data.get(name), str) or not data[name] or "\x00" in data[name]:
            raise ProblemError(422, "Invalid professional", f"{name} is required", rule=f"PSC:professional.{name}")
        if len(data[name]) > 255:
            raise ProblemError(
                422, "Invalid professional", f"{name} is longer than 255 characters", rule=f"PSC:professional.{name}"
            )
    problem = _shape_problem(data)
    if problem is not None:
        raise ProblemError(422, "Invalid professional", problem, rule="PSC:professional.shape")
    if len(_profession_code(normalise_userinfo(data))) > 8:
        raise ProblemError(
            422, "Invalid professional", "codeProfession is longer than 8 characters", rule="PSC:professional.shape"
        )

    if await session.get(ProfessionalRow, sni) is not None:
        raise ProblemError(409, "Professional exists", f"{sni} already exists", rule="PSC:professional.exists")
    row = _professional_row(data)
    session.add(row)
    await session.flush()
    await publish(session, TOPIC_PROFESSIONAL, sni)
    return to_professional(row)


# --- access tokens: the check every domain uses ---------------------------------------------------


async def verify_token(
    session: AsyncSession,
    settings: Settings,
    token: str,
    *,
    typ: str = tokens.TYP_ACCESS,
    audience: str | None = None,
    check_exp: bool = True,
) -> dict[str, Any]:
    """Signature (allow-list, known kid: reload the keys once on an unknown kid), iss, aud, exp, typ.
    Revocation is checked by the callers. A signature already verified by this worker is not verified
    again (``PscMemory.verified``); the claims are checked on every call."""
    memory = memory_for(settings.database_url)
    ring = await get_keyring(session, settings)
    hit = memory.verified.get(token)
    if hit is not None and hit[1] in ring:  # and its key is still published
        claims = hit[0]
    else:
        try:
            claims = tokens.verify_signature(token, ring)
        except tokens.UnknownKeyError:
            # A key rotated by another worker: reload, but at most once per UNKNOWN_KID_RELOAD_INTERVAL per
            # worker, or every forged kid would cost a query and the parsing of every key.
            cached = _RINGS.get(settings.database_url)
            if cached is not None and time.monotonic() - cached.loaded_at < UNKNOWN_KID_RELOAD_INTERVAL:
                raise
            ring = await get_keyring(session, settings, reload=True)
            claims = tokens.verify_signature(token, ring)
        memory.remember_verified(token, claims, str(tokens.unverified_header(token)["kid"]))
    _check_claims(settings, claims, typ=typ, audience=audience, check_exp=check_exp)
    return claims


def _check_claims(
    settings: Settings, claims: dict[str, Any], *, typ: str, audience: str | None, check_exp: bool = True
) -> None:
    tokens.check_claims(
        claims,
        issuer=issuer(settings),
        audience=audience,
        typ=typ,
        now=None if check_exp or not isinstance(claims.get("exp"), int) else int(claims["exp"]),
        leeway=settings.psc_leeway,
    )


async def is_revoked(session: AsyncSession, jti: str) -> bool:
    return (await session.scalar(select(exists().where(RevokedToken.jti == jti)))) or False


def _refuse_if_revoked(revoked: bool) -> None:
    if revoked:
        raise tokens.TokenError("the token has been revoked", "PSC:token.revoked")


_NOT_A_PROFESSIONAL = "the token does not belong to a health professional"


async def _cached_professional(
    session: AsyncSession, settings: Settings, sni: object, *, keep: bool = True
) -> CachedProfessional | None:
    """The professional from this worker's memory, read from the store on a miss (and kept when ``keep``)."""
    if not isinstance(sni, str):
        return None
    memory = memory_for(settings.database_url)
    cached = memory.professionals.get(sni) if keep else None
    if cached is None:
        generation = memory.generation
        row = await session.get(ProfessionalRow, sni)
        if row is None:
            return None
        cached = CachedProfessional(
            row.subject_name_id, row.rpps, row.given_name, row.family_name, row.profession_code,
            row.userinfo, json.dumps(row.userinfo),
        )
        if keep and memory.generation == generation:  # no reset committed while it was read
            memory.professionals[sni] = cached
    return cached


async def _professional_of(session: AsyncSession, settings: Settings, claims: Mapping[str, Any]) -> CachedProfessional:
    """The professional of verified access-token claims, unless the token is revoked: from this worker's
    memory, or from the store while the listener that keeps that memory right is down."""
    memory = memory_for(settings.database_url)
    known = memory.revocations_known
    _refuse_if_revoked(claims["jti"] in memory.revoked if known else await is_revoked(session, claims["jti"]))
    pro = await _cached_professional(session, settings, claims.get("preferred_username"), keep=known)
    if pro is None:
        raise tokens.TokenError(_NOT_A_PROFESSIONAL, "PSC:token.subject")
    return pro


async def authenticate_access_token(session: AsyncSession, settings: Settings, token: str) -> Professional:
    """The professional behind a PSC access token, or ``TokenError`` (rule says which check refused)."""
    claims = await verify_token(session, settings, token, audience=settings.psc_access_token_audience)
    pro = await _professional_of(session, settings, claims)
    return Professional(
        subject_name_id=pro.subject_name_id, rpps=pro.rpps, given_name=pro.given_name,
        family_name=pro.family_name, profession_code=pro.profession_code, client_id=claims.get("azp"),
        scopes=tuple(str(claims.get("scope", "")).split()), userinfo=pro.userinfo, token_claims=dict(claims),
    )


def userinfo_from_memory(settings: Settings, token: str) -> tuple[str, dict[str, Any]] | None:
    """userinfo's hot path, answered from this worker's memory with no store access: the token already
    verified, the revocations known, the professional and the client cached. None when anything is
    missing (then :func:`userinfo_for` reads the store); ``TokenError`` when the token is refused."""
    memory = memory_for(settings.database_url)
    hit = memory.verified.get(token)
    ring = _RINGS.get(settings.database_url)
    if (hit is None or not memory.revocations_known or ring is None
            or time.monotonic() - ring.loaded_at >= settings.psc_key_cache_ttl or hit[1] not in ring.ring):
        return None
    claims = hit[0]
    _check_claims(settings, claims, typ=tokens.TYP_ACCESS, audience=settings.psc_access_token_audience)
    _refuse_if_revoked(claims["jti"] in memory.revoked)
    sni, azp = claims.get("preferred_username"), claims.get("azp")
    pro = memory.professionals.get(sni) if isinstance(sni, str) else None
    client = cached_client(settings, azp) if isinstance(azp, str) else None
    if pro is None or client is None:
        return None
    return pro.userinfo_json, {**claims, "_client": client.client_metadata}


async def userinfo_for(session: AsyncSession, settings: Settings, token: str) -> tuple[str, dict[str, Any]]:
    """(userinfo document as JSON text, access token claims + ``_client``): what
    :func:`userinfo_from_memory` could not answer alone."""
    claims = await verify_token(session, settings, token, audience=settings.psc_access_token_audience)
    pro = await _professional_of(session, settings, claims)
    azp = claims.get("azp")
    client = await get_client(session, client_id=azp, settings=settings) if isinstance(azp, str) else None
    return pro.userinfo_json, {**claims, "_client": client.client_metadata if client is not None else {}}


# --- issuing --------------------------------------------------------------------------------------


@dataclass
class Grant:
    """What a user grant carries into token issuance."""

    client: ClientLike
    subject_name_id: str
    userinfo: dict[str, Any]
    scope: str
    session_id: str
    auth_time: int
    grant_id: str
    nonce: str | None = None


def token_response(
    access: str,
    *,
    expires_in: int,
    scope: str,
    refresh: str | None = None,
    refresh_expires_in: int = 0,
    id_token: str | None = None,
    session_state: str | None = None,
) -> dict[str, Any]:
    """Keycloak's token answer (``expires_in``, ``refresh_expires_in``, ``not-before-policy``, ...)."""
    body: dict[str, Any] = {"access_token": access, "expires_in": expires_in, "refresh_expires_in": refresh_expires_in}
    if refresh is not None:
        body["refresh_token"] = refresh
    body["token_type"] = "Bearer"
    if id_token is not None:
        body["id_token"] = id_token
    body["not-before-policy"] = 0
    if session_state is not None:
        body["session_state"] = session_state
    body["scope"] = scope
    return body


async def issue_client_credentials(
    session: AsyncSession, settings: Settings, *, client: ClientLike, scope: str | None
) -> dict[str, Any]:
    ring = await get_keyring(session, settings)
    granted = _granted_scope(client, scope, default="profile email")
    now = int(time.time())
    claims = tokens.access_token_claims(
        issuer=issuer(settings),
        audience=settings.psc_access_token_audience,
        client_id=client.client_id,
        subject=str(uuid.uuid5(uuid.NAMESPACE_URL, "service-account:" + client.client_id)),
        scope=granted,
        now=now,
        ttl=settings.psc_access_token_ttl,
        preferred_username="service-account-" + client.client_id,
        acr="1",
        extra={"clientId": client.client_id},
    )
    access = tokens.sign(ring, claims, alg=client.access_token_alg)  # type: ignore[arg-type]
    return token_response(access, expires_in=settings.psc_access_token_ttl, scope=granted)


def _granted_scope(client: ClientLike, requested: str | None, *, default: str = "openid scope_all") -> str:
    allowed = set(str(client.client_metadata.get("scope", "")).split())
    wanted = (requested or default).split()
    unknown = [s for s in wanted if s not in allowed]
    if unknown:
        raise OAuthError("invalid_scope", f"scope not allowed for this client: {' '.join(unknown)}", rule="PSC:scope")
    return " ".join(dict.fromkeys(wanted))


async def issue_user_tokens(session: AsyncSession, settings: Settings, grant: Grant) -> dict[str, Any]:
    """Access, refresh and (for ``openid``) id tokens; every jti recorded under ``grant.grant_id``."""
    ring = await get_keyring(session, settings)
    client = grant.client
    now = int(time.time())
    iss = issuer(settings)
    sub = grant.userinfo.get("sub", grant.subject_name_id)
    access_claims = tokens.access_token_claims(
        issuer=iss,
        audience=settings.psc_access_token_audience,
        client_id=client.client_id,
        subject=sub,
        scope=grant.scope,
        now=now,
        ttl=settings.psc_access_token_ttl,
        session_id=grant.session_id,
        auth_time=grant.auth_time,
        preferred_username=grant.subject_name_id,
        extra={
            "given_name": grant.userinfo.get("given_name", ""),
            "family_name": grant.userinfo.get("family_name", ""),
        },
    )
    access = tokens.sign(ring, access_claims, alg=client.access_token_alg)  # type: ignore[arg-type]
    refresh_ttl = min(settings.psc_refresh_token_ttl, settings.psc_session_ttl)
    refresh_claims = tokens.refresh_token_claims(
        issuer=iss,
        client_id=client.client_id,
        subject=sub,
        scope=grant.scope,
        now=now,
        ttl=refresh_ttl,
        session_id=grant.session_id,
    )
    refresh = tokens.sign(ring, refresh_claims, alg="RS256")
    id_token = None
    id_claims = None
    if "openid" in grant.scope.split():
        id_alg = client.client_metadata.get("id_token_signed_response_alg", "RS256")
        id_claims = tokens.id_token_claims(
            issuer=iss,
            client_id=client.client_id,
            subject=sub,
            now=now,
            ttl=settings.psc_id_token_ttl,
            session_id=grant.session_id,
            auth_time=grant.auth_time,
            nonce=grant.nonce,
            access_token=access,
            alg=id_alg,
            # fault injection: a client registered with "sandbox_id_token_acr" gets that acr ("" = none)
            acr=client.client_metadata.get("sandbox_id_token_acr", tokens.ACR_EIDAS1) or None,
            profile={
                # Keycloak's "email" scope mapper writes email_verified to the id_token as to userinfo
                "email_verified": grant.userinfo.get("email_verified", False),
                "preferred_username": grant.subject_name_id,
                "given_name": grant.userinfo.get("given_name", ""),
                "family_name": grant.userinfo.get("family_name", ""),
            },
        )
        id_token = tokens.sign(ring, id_claims, alg=id_alg)
    for kind, claims in (("access", access_claims), ("refresh", refresh_claims), ("id", id_claims)):
        if claims is None:
            continue
        session.add(
            IssuedToken(
                jti=claims["jti"],
                kind=kind,
                grant_id=grant.grant_id,
                client_id=client.client_id,
                subject_name_id=grant.subject_name_id,
                session_id=grant.session_id,
                scope=grant.scope,
                expires_at=from_epoch(claims["exp"]),
            )
        )
    await session.flush()
    return token_response(
        access,
        expires_in=settings.psc_access_token_ttl,
        scope=grant.scope,
        refresh=refresh,
        refresh_expires_in=refresh_ttl,
        id_token=id_token,
        session_state=grant.session_id,
    )


async def revoke_jtis(session: AsyncSession, rows: Sequence[IssuedToken], reason: str) -> int:
    if not rows:
        return 0
    jtis = [row.jti for row in rows]
    already = set((await session.scalars(select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis)))).all())
    now = utcnow()
    fresh = [row for row in rows if row.jti not in already]
    for row in fresh:
        session.add(RevokedToken(jti=row.jti, reason=reason, revoked_at=now, expires_at=row.expires_at))
    await session.flush()
    await publish(session, TOPIC_REVOKED, [revoked_key(row.jti, row.expires_at) for row in fresh])
    return len(fresh)


async def revoke_grant(session: AsyncSession, *, grant_id: str, reason: str) -> int:
    rows = (await session.scalars(select(IssuedToken).where(IssuedToken.grant_id == grant_id))).all()
    return await revoke_jtis(session, rows, reason)


async def revoke_session(session: AsyncSession, *, session_id: str, reason: str) -> int:
    if not usable_id(session_id, max_length=64):  # PostgreSQL refuses NUL; the column is String(64)
        return 0
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    rows = (await session.scalars(select(IssuedToken).where(IssuedToken.session_id == session_id))).all()
    return await revoke_jtis(session, rows, reason)


async def revoke_single(session: AsyncSession, *, jti: str, expires_at: datetime | None, reason: str) -> None:
    if await session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, reason=reason, revoked_at=utcnow(), expires_at=expires_at))
        await session.flush()
        await publish(session, TOPIC_REVOKED, revoked_key(jti, expires_at))


# --- sessions and codes ---------------------------------------------------------------------------


async def start_session(session: AsyncSession, settings: Settings, *, subject_name_id: str) -> LoginSession:
    now = utcnow()
    row = LoginSession(
        id=str(uuid.uuid4()),
        subject_name_id=subject_name_id,
        auth_time=now.replace(microsecond=0),
        expires_at=now + timedelta(seconds=settings.psc_session_ttl),
    )
    session.add(row)
    await session.flush()
    return row


async def live_session(session: AsyncSession, *, session_id: str | None) -> LoginSession | None:
    if not usable_id(session_id, max_length=64):
        return None
    row = await session.get(LoginSession, session_id)
    if row is None or row.ended_at is not None or as_utc(row.expires_at) <= utcnow():
        return None
    return row


async def create_code(
    session: AsyncSession,
    settings: Settings,
    *,
    client_id: str,
    redirect_uri: str,
    login: LoginSession,
    scope: str,
    nonce: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> str:
    code = secrets.token_urlsafe(32)
    session.add(
        AuthorizationCode(
            code_sha256=sha256_hex(code),
            client_id=client_id,
            redirect_uri=redirect_uri,
            subject_name_id=login.subject_name_id,
            session_id=login.id,
            scope=scope,
            nonce=nonce,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            auth_time=login.auth_time,
            expires_at=utcnow() + timedelta(seconds=settings.psc_code_ttl),
        )
    )
    await session.flush()
    return code


class CommittedOAuthError(OAuthError):
    """An OAuth error whose side effects (poll time, revocations) must still be committed: the router
    commits the session before letting it propagate."""


class CodeReplayError(CommittedOAuthError):
    """A used code presented again: the tokens issued from it have been revoked; commit, then answer."""


async def consume_code(session: AsyncSession, *, code: str) -> AuthorizationCode:
    digest = sha256_hex(code)
    row = await session.get(AuthorizationCode, digest, with_for_update=True)
    if row is None:
        raise OAuthError("invalid_grant", "unknown authorization code", rule="PSC:code.unknown")
    if row.used_at is not None:
        # RFC 6749 §4.1.2: a code used twice -> deny, and revoke what was issued from it.
        await revoke_grant(session, grant_id=digest, reason="code_replay")
        raise CodeReplayError(
            "invalid_grant",
            "authorization code already used; the tokens issued from it are revoked",
            rule="PSC:code.replay",
        )
    if as_utc(row.expires_at) <= utcnow():
        raise OAuthError("invalid_grant", "authorization code expired", rule="PSC:code.expired")
    row.used_at = utcnow()
    await session.flush()
    return row


async def professional_row(session: AsyncSession, subject_name_id: str) -> ProfessionalRow | None:
    if not usable_id(subject_name_id, max_length=64):
        return None
    return await session.get(ProfessionalRow, subject_name_id)


# --- refresh --------------------------------------------------------------------------------------


async def rotate_refresh(
    session: AsyncSession, settings: Settings, *, client: ClientLike, refresh_token: str, scope: str | None
) -> dict[str, Any]:
    try:
        claims = await verify_token(session, settings, refresh_token, typ=tokens.TYP_REFRESH, audience=issuer(settings))
    except tokens.TokenError as exc:
        raise OAuthError("invalid_grant", f"invalid refresh token: {exc.description}", rule=exc.rule) from None
    row = await session.get(IssuedToken, claims["jti"], with_for_update=True)
    if row is None or row.kind != "refresh":
        raise OAuthError("invalid_grant", "unknown refresh token", rule="PSC:refresh.unknown")
    if row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "refresh token was issued to another client", rule="PSC:refresh.client")
    if await is_revoked(session, row.jti):
        raise OAuthError("invalid_grant", "refresh token revoked", rule="PSC:refresh.revoked")
    if row.used_at is not None:
        # Rotation (OAuth 2.0 Security BCP §4.14.2): a reused refresh token revokes its whole grant.
        await revoke_grant(session, grant_id=row.grant_id, reason="refresh_reuse")
        raise CodeReplayError(
            "invalid_grant", "refresh token already used (rotated); the grant is revoked", rule="PSC:refresh.reuse"
        )
    login = await live_session(session, session_id=row.session_id) if row.session_id else None
    if row.session_id and login is None:
        raise OAuthError("invalid_grant", "session not active", rule="PSC:refresh.session")
    granted = row.scope
    if scope:
        asked = scope.split()
        if not set(asked) <= set(row.scope.split()):
            raise OAuthError("invalid_scope", "a refresh cannot widen the scope", rule="PSC:refresh.scope")
        granted = " ".join(asked)
    pro = await professional_row(session, row.subject_name_id or "")
    if pro is None:
        raise OAuthError("invalid_grant", "the professional no longer exists", rule="PSC:refresh.subject")
    row.used_at = utcnow()
    grant = Grant(
        client=client,
        subject_name_id=pro.subject_name_id,
        userinfo=pro.userinfo,
        scope=granted,
        session_id=row.session_id or "",
        auth_time=epoch(login.auth_time) if login else int(time.time()),
        grant_id=row.grant_id,
    )
    return await issue_user_tokens(session, settings, grant)


# --- introspection and revocation -----------------------------------------------------------------


async def introspect(session: AsyncSession, settings: Settings, *, token: str) -> dict[str, Any]:
    """RFC 7662: ``{"active": false}`` for anything not currently valid."""
    for typ, audience in ((tokens.TYP_ACCESS, None), (tokens.TYP_REFRESH, issuer(settings))):
        try:
            claims = await verify_token(session, settings, token, typ=typ, audience=audience)
        except tokens.TokenError:
            continue
        if await is_revoked(session, claims["jti"]):
            return {"active": False}
        body = dict(claims)
        body.update(
            active=True,
            client_id=claims.get("azp"),
            username=claims.get("preferred_username"),
            token_type=claims.get("typ"),
        )
        return body
    return {"active": False}


async def revoke_token(session: AsyncSession, settings: Settings, *, client: ClientLike, token: str) -> None:
    """RFC 7009: revoke if valid and the client's own; invalid tokens are not an error (§2.2)."""
    for typ, audience in ((tokens.TYP_REFRESH, issuer(settings)), (tokens.TYP_ACCESS, None)):
        try:
            claims = await verify_token(session, settings, token, typ=typ, audience=audience, check_exp=False)
        except tokens.TokenError:
            continue
        if claims.get("azp") != client.client_id:
            raise OAuthError("unauthorized_client", "the token was issued to another client", rule="PSC:revoke.client")
        if typ == tokens.TYP_REFRESH:
            row = await session.get(IssuedToken, claims["jti"])
            if row is not None:
                await revoke_grant(session, grant_id=row.grant_id, reason="revoked")  # §2.1: and its access tokens
        await revoke_single(session, jti=claims["jti"], expires_at=from_epoch(claims["exp"]), reason="revoked")
        return


# --- CIBA -----------------------------------------------------------------------------------------


async def create_ciba_request(
    session: AsyncSession,
    settings: Settings,
    *,
    client: ClientLike,
    login_hint: str,
    scope: str,
    binding_message: str | None,
    acr_values: str | None,
) -> CibaRequest:
    if await session.get(ProfessionalRow, login_hint) is None:
        raise OAuthError(
            "unknown_user_id", f"no professional with SubjectNameID {login_hint!r}", rule="PSC:ciba.login_hint"
        )
    row = CibaRequest(
        auth_req_id=str(uuid.uuid4()),
        client_id=client.client_id,
        subject_name_id=login_hint,
        scope=scope,
        binding_message=binding_message,
        acr_values=acr_values,
        status="pending",
        interval=settings.psc_ciba_interval,
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(seconds=settings.psc_ciba_expires_in),
    )
    session.add(row)
    await session.flush()
    return row


async def decide_ciba(session: AsyncSession, *, auth_req_id: str, approve: bool) -> CibaRequest:
    row = await session.get(CibaRequest, auth_req_id) if usable_id(auth_req_id, max_length=64) else None
    if row is None:
        raise ProblemError(404, "Unknown CIBA request", f"no CIBA request {auth_req_id!r}", rule="PSC:ciba.unknown")
    if row.status != "pending":
        raise ProblemError(409, "CIBA request already decided", f"status is {row.status}", rule="PSC:ciba.decided")
    if as_utc(row.expires_at) <= utcnow():
        raise ProblemError(409, "CIBA request expired", "the request has expired", rule="PSC:ciba.expired")
    row.status = "approved" if approve else "denied"
    await session.flush()
    return row


async def list_ciba(session: AsyncSession) -> list[CibaRequest]:
    return list((await session.scalars(select(CibaRequest).order_by(CibaRequest.created_at))).all())


async def poll_ciba(
    session: AsyncSession, settings: Settings, *, client: ClientLike, auth_req_id: str
) -> dict[str, Any]:
    """CIBA Core §11 token polling: authorization_pending, slow_down, expired_token, access_denied."""
    row = (
        await session.get(CibaRequest, auth_req_id, with_for_update=True)
        if usable_id(auth_req_id, max_length=64)
        else None
    )
    if row is None or row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "unknown auth_req_id", rule="PSC:ciba.unknown")
    now = utcnow()
    if row.status == "consumed":
        raise OAuthError("invalid_grant", "auth_req_id already used", rule="PSC:ciba.consumed")
    if as_utc(row.expires_at) <= now:
        raise OAuthError("expired_token", "the authentication request has expired", rule="PSC:ciba.expired")
    if row.status == "denied":
        raise OAuthError("access_denied", "the professional refused the authentication", rule="PSC:ciba.denied")
    if row.status == "pending":
        too_fast = row.last_polled_at is not None and (now - as_utc(row.last_polled_at)).total_seconds() < row.interval
        row.last_polled_at = now
        if too_fast:
            row.interval += 5  # CIBA Core §11: slow_down raises the interval by 5 s
            raise CommittedOAuthError("slow_down", f"poll at most every {row.interval} s", rule="PSC:ciba.slow_down")
        raise CommittedOAuthError(
            "authorization_pending", "the professional has not answered yet", rule="PSC:ciba.pending"
        )
    pro = await professional_row(session, row.subject_name_id)
    if pro is None:
        raise OAuthError("invalid_grant", "the professional no longer exists", rule="PSC:ciba.subject")
    row.status = "consumed"
    login = await start_session(session, settings, subject_name_id=pro.subject_name_id)
    grant = Grant(
        client=client,
        subject_name_id=pro.subject_name_id,
        userinfo=pro.userinfo,
        scope=row.scope,
        session_id=login.id,
        auth_time=epoch(login.auth_time),
        grant_id="ciba:" + row.auth_req_id[:59],
    )
    return await issue_user_tokens(session, settings, grant)
