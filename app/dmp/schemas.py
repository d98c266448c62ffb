"""Control-API bodies of the DMP domain (``/sandbox/v1/dmps``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DmpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ins: str = Field(min_length=15, max_length=15, description="INS (NIR or NIA with its key), known to INS")
    oid: str | None = Field(default=None, description="INS OID; default: the identity's own")


class DmpClose(BaseModel):
    """``dmp-fermeture`` (PDSm4DMP TD02): ``motifFermeture`` code and optional ``raisonFermeture``."""

    model_config = ConfigDict(extra="forbid")

    motifFermeture: str = Field(default="patient-demande", min_length=1, max_length=64)  # noqa: N815
    raisonFermeture: str | None = Field(default=None, max_length=1024)  # noqa: N815


class AuthorisationSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["VALIDE", "EXPIRE", "INTERDIT", "NON_EXISTE"]
    medecinTraitant: bool = False  # noqa: N815


class OptOutSet(BaseModel):
    """What the patient objects to (MagicDMP ``TAutorisations``: BrisDeGlace, Urgence / centre 15)."""

    model_config = ConfigDict(extra="forbid")

    bris_de_glace: bool | None = None
    centre_15: bool | None = None


class DmpRead(BaseModel):
    ins: str
    oid: str
    active: bool
    closure: dict[str, str | None] | None
    opt_outs: dict[str, bool]
    authorisations: list[dict[str, object]]
    blocked_professionals: list[str]
    documents: int | None = None


class PatientDocument(BaseModel):
    id: str
    unique_id: str
    title: str
    type_code: str
    status: str
    is_archived: bool
    labels: list[str]
    author_rpps: str | None
