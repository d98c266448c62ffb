"""Settings of the dmp domain (a mixin of app.config.Settings; env prefix SEGUR_)."""

from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings


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
