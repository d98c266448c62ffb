"""Signing keys: generation, parsing, and the in-process key ring.

PSC (Keycloak) signs with RS256 by default and per client with ES256; keys are published as a JWKS
at ``{issuer}/protocol/openid-connect/certs`` with a ``kid``, and relying parties reload the JWKS on
an unknown ``kid`` (reference psc.md §5, ``ansforge/keycloak-prosanteconnect``
``ProSanteConnectIdentityProvider.java``). This module is pure: rows come from :mod:`app.psc.signing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from joserfc.jwk import ECKey, KeySet, RSAKey

SigningAlg = Literal["RS256", "ES256"]
SIGNING_ALGS: tuple[SigningAlg, ...] = ("RS256", "ES256")


def generate_private_jwk(alg: SigningAlg) -> dict[str, Any]:
    """A new private JWK (dict) for ``alg``, with ``kid`` = RFC 7638 thumbprint, ``use`` and ``alg``."""
    if alg == "RS256":
        from app.keygen import rsa_2048  # a key made ahead during a first start's migrations, if any

        key: RSAKey | ECKey = RSAKey.import_key(rsa_2048())
    elif alg == "ES256":
        key = ECKey.generate_key("P-256")
    else:  # pragma: no cover - guarded by the Literal type
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    data = dict(key.as_dict(private=True))
    data["kid"] = key.thumbprint()
    data["use"] = "sig"
    data["alg"] = alg
    return data


def public_jwk(private: Mapping[str, Any], *, key: RSAKey | ECKey | None = None) -> dict[str, Any]:
    """The public half of a private JWK dict, keeping ``kid``, ``use`` and ``alg`` (``key``: the dict already
    parsed)."""
    key = key if key is not None else import_jwk(private)
    data = dict(key.as_dict(private=False))
    for name in ("kid", "use", "alg"):
        if name in private:
            data[name] = private[name]
    return data


def import_jwk(data: Mapping[str, Any]) -> RSAKey | ECKey:
    kty = data.get("kty")
    if kty == "RSA":
        return RSAKey.import_key(dict(data))
    if kty == "EC":
        return ECKey.import_key(dict(data))
    raise ValueError(f"unsupported key type {kty!r}")


@dataclass(frozen=True)
class StoredKey:
    """What the key ring needs from a ``psc_signing_key`` row."""

    kid: str
    alg: SigningAlg
    private_jwk: Mapping[str, Any]
    active: bool


@dataclass
class KeyRing:
    """Parsed keys, by ``kid``; one active key per algorithm signs new tokens.

    Parsing a PEM/JWK costs far more than a signature, so the ring is built once and cached by the
    caller (:func:`app.psc.signing.get_keyring`); it is rebuilt when an unknown ``kid`` shows up (rotation by
    another worker) or after a rotation in this process.
    """

    keys: dict[str, RSAKey | ECKey] = field(default_factory=dict)
    algs: dict[str, SigningAlg] = field(default_factory=dict)
    active: dict[SigningAlg, str] = field(default_factory=dict)
    public_set: KeySet | None = None
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})

    lineup: tuple[tuple[str, str, bool], ...] = ()
    """``(kid, alg, active)`` of the stored keys it was built from, in order: what :meth:`refreshed` compares."""

    @classmethod
    def build(cls, stored: Iterable[StoredKey]) -> KeyRing:
        return cls._assemble(list(stored), {})

    def refreshed(self, stored: Iterable[StoredKey]) -> KeyRing:
        """The ring for ``stored`` as read again from the store: this very ring when the same keys are stored,
        in the same roles; else a new ring that parses only the keys it does not hold yet. A ``kid`` is the
        key's RFC 7638 thumbprint, so the same ``kid`` is the same key. Parsing every key again costs about
        70 ms of CPU (the RSA private key checks) on the event loop, and every request that found the ring
        stale at the same moment did it: that was the token endpoint's growing tail (issue 16)."""
        items = list(stored)
        if tuple((item.kid, item.alg, item.active) for item in items) == self.lineup:
            return self
        return self._assemble(items, self.keys)

    @classmethod
    def _assemble(cls, stored: list[StoredKey], parsed: Mapping[str, RSAKey | ECKey]) -> KeyRing:
        ring = cls(lineup=tuple((item.kid, item.alg, item.active) for item in stored))
        published = []
        for item in stored:
            key = parsed[item.kid] if item.kid in parsed else import_jwk(item.private_jwk)
            ring.keys[item.kid] = key
            ring.algs[item.kid] = item.alg
            if item.active:
                ring.active[item.alg] = item.kid
            published.append(public_jwk(item.private_jwk, key=key))
        ring.jwks = {"keys": published}
        ring.public_set = KeySet([import_jwk(j) for j in published]) if published else None
        return ring

    def signing_key(self, alg: SigningAlg) -> tuple[str, RSAKey | ECKey]:
        kid = self.active.get(alg)
        if kid is None:
            raise LookupError(f"no active {alg} signing key")
        return kid, self.keys[kid]

    def verification_key(self, kid: str) -> RSAKey | ECKey | None:
        return self.keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self.keys
