"""Who calls and on which DMP: the access context a face builds from its request (the PSC professional,
the access mode and reason), and what the access rules and traces read of a DMP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.dmp import rules
from app.shared.professional import Professional


@dataclass(frozen=True)
class AccessContext:
    """Who calls and how: the PSC professional, the access mode and reason (request headers)."""

    professional: Professional
    mode: rules.AccessMode = rules.AccessMode.NORMAL
    reason: str | None = None

    @property
    def rpps(self) -> str | None:
        return self.professional.rpps or (self.professional.subject_name_id[1:]
                                          if self.professional.subject_name_id.startswith("8") else None)

    @property
    def name(self) -> str:
        return f"{self.professional.given_name} {self.professional.family_name}".strip()

class RecordLike(Protocol):
    """What the access rules and the traces read of a DMP: an ORM :class:`DmpRecord` or a :class:`RecordRow`."""

    @property
    def id(self) -> int: ...
    @property
    def ins(self) -> str: ...
    @property
    def ins_oid(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def opt_out_bris_de_glace(self) -> bool: ...
    @property
    def opt_out_centre_15(self) -> bool: ...


@dataclass(frozen=True)
class RecordRow:
    """The columns of a DMP the feeding path needs, read without building the ORM entity."""

    id: int
    ins: str
    ins_oid: str
    active: bool
    opt_out_bris_de_glace: bool
    opt_out_centre_15: bool
