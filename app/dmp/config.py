"""Settings of the dmp domain (a mixin of app.config.Settings; env prefix SEGUR_)."""

from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings

from app.dmp.soap.namespaces import DEFAULT_HOME_COMMUNITY_ID, DEFAULT_REPOSITORY_UNIQUE_ID


class DmpSettings(BaseSettings):
    """Fields are flat and prefixed with `dmp_`: `dmp_x` is read from `SEGUR_DMP_X`."""

    dmp_lenient: bool = False
    """Accept codes outside the shipped value sets and the PDSm example's wrong isArchived URL in patches.
    Structural PDSm rules (author, hash, size, period.start, ...) stay strict."""
    dmp_deleted_status: Literal["entered-in-error", "superseded"] = "entered-in-error"
    """How a logically deleted document (XDS Deleted) is rendered in DocumentReference.status."""
    dmp_page_size: int = 50
    """Default ITI-67 / ITI-66 / AuditEvent page size (``_count`` overrides it, up to dmp_max_page_size)."""
    dmp_max_page_size: int = 500
    dmp_chunk_size: int = 1024 * 1024
    """Bytes per stored chunk of a document (ITI-68 streams chunk by chunk)."""
    dmp_seed_documents: bool = True
    """Seed a DMP with the five generated CDA documents for each seeded INS identity."""

    @field_validator("dmp_page_size", "dmp_max_page_size")
    @classmethod
    def _page(cls, value: int) -> int:
        if not 1 <= value <= 10_000:
            raise ValueError("[dmp] SEGUR_DMP_PAGE_SIZE / SEGUR_DMP_MAX_PAGE_SIZE must be 1..10000")
        return value

    @field_validator("dmp_chunk_size")
    @classmethod
    def _chunk(cls, value: int) -> int:
        if not 4096 <= value <= 64 * 1024 * 1024:
            raise ValueError("[dmp] SEGUR_DMP_CHUNK_SIZE must be 4 KiB..64 MiB")
        return value

    # --- the XDS.b SOAP face (issue 11): transport --------------------------------------------------------
    dmp_soap_max_bytes: int = 48 * 1024 * 1024
    """Largest SOAP request body (MTOM or plain): a 20 MB document inline in base64 (26.7 MB) plus its
    metadata fits; a bigger body is refused (Content-Length, else while reading) before it is all read."""
    dmp_soap_max_envelope_bytes: int = 40 * 1024 * 1024
    """Largest SOAP envelope handed to the hardened XML parser (the root part of an MTOM request, or the whole
    plain body, where a document may travel inline in base64)."""
    dmp_soap_max_parts: int = 64
    """Most MIME parts in one MTOM request (the envelope plus one part per document)."""
    dmp_soap_client_cert_header: str = "X-Segur-Client-Certificate"
    """The header a TLS-terminating proxy or a test client sets to the client certificate's subject when the
    sandbox does not terminate TLS itself (structure authentication, VIHF INDIRECTE): a documented stand-in,
    as INSi's ``SEGUR_INS_CERT_CN_HEADER``."""
    dmp_repository_unique_id: str = DEFAULT_REPOSITORY_UNIQUE_ID
    """The XDS repositoryUniqueId the sandbox answers as (ITI-41 metadata, ITI-43 requests)."""
    dmp_home_community_id: str = DEFAULT_HOME_COMMUNITY_ID
    """The XCA homeCommunityId the sandbox answers as (ITI-18 / ITI-43 responses)."""

    @field_validator("dmp_soap_max_bytes", "dmp_soap_max_envelope_bytes")
    @classmethod
    def _soap_bytes(cls, value: int) -> int:
        if not 64 * 1024 <= value <= 1024 * 1024 * 1024:
            raise ValueError("[dmp] SEGUR_DMP_SOAP_MAX_BYTES / SEGUR_DMP_SOAP_MAX_ENVELOPE_BYTES must be 64 KiB..1 GiB")
        return value

    @field_validator("dmp_soap_max_parts")
    @classmethod
    def _soap_parts(cls, value: int) -> int:
        if not 1 <= value <= 10_000:
            raise ValueError("[dmp] SEGUR_DMP_SOAP_MAX_PARTS must be 1..10000")
        return value
