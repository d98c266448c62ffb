"""Settings of the ins domain (a mixin of app.config.Settings; env prefix SEGUR_)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings


class InsSettings(BaseSettings):
    """Fields are flat and prefixed with `ins_`: `ins_x` is read from `SEGUR_INS_X`."""

    ins_oid_policy: Literal["real", "test"] = "real"
    """OID of the matricules INSi answers: ``real`` = .8 (NIR) / .9 (NIA), as the qualif INSi returns for its
    fictitious persons; ``test`` = .10 (INS-NIR de test) for NIRs (a NIA keeps .9: no test-NIA OID exists)."""
    ins_status_system: Literal["new", "old"] = "new"
    """Code system of the FHIR identity status: ``new`` = fr-core-cs-identity-status (PROV/RECUP/VALI/QUAL),
    ``old`` = fr-core-cs-v2-0445 (VALI meaning qualified)."""
    ins_tiq_prenom: bool = False
    """Also emit ``TIQ/Prenom`` (first prénom) in answers, as some CNDA sample files do; live answers carry
    ``ListePrenom`` only."""
    ins_cert_cn_header: str = "X-Client-Cert-CN"
    """Header carrying the CN of the client certificate (simulated mTLS: set by the caller or by a TLS
    terminating proxy). INSi accepts ``INSI-AUTO`` and ``INSI-MANU`` only (else DESIR_560)."""
    ins_require_credential: bool = True
    """Refuse (DESIR_560) a SOAP call with neither a certificate CN header nor a CPx SAML assertion."""
    ins_soap_max_bytes: int = 256 * 1024
    """Largest SOAP request accepted (an INSi request is a few kB, with a SAML assertion ~10 kB)."""

    @field_validator("ins_soap_max_bytes")
    @classmethod
    def _max_bytes(cls, value: int) -> int:
        if not 4096 <= value <= 16 * 1024 * 1024:
            raise ValueError(f"[ins] SEGUR_INS_SOAP_MAX_BYTES must be 4096..16777216, got {value}")
        return value

    @field_validator("ins_cert_cn_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not value or any(c in value for c in " :\r\n"):
            raise ValueError(f"[ins] SEGUR_INS_CERT_CN_HEADER is not a header name: {value!r}")
        return value
