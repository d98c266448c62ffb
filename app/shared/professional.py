"""The health professional every domain sees: who a PSC access token authenticated. Pure data.

PSC builds it (:func:`app.psc.service.authenticate_access_token`); DMP, MSSanté and INS read it through
the platform's ``CurrentProfessional`` dependency (:mod:`app.api.deps`) without importing PSC. PSC's own
table row is :class:`app.psc.models.Professional`, which no other domain sees.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Professional(BaseModel):
    """A health professional as the rest of the sandbox sees one.

    ``userinfo`` is the whole PSC userinfo document (``SubjectNameID``, ``SubjectRefPro``, ...);
    ``client_id`` and ``scopes`` are those of the access token that authenticated the request (None
    and empty for :func:`app.psc.service.list_professionals`).
    """

    model_config = ConfigDict(frozen=True)

    subject_name_id: str
    rpps: str | None
    given_name: str
    family_name: str
    profession_code: str
    client_id: str | None = None
    scopes: tuple[str, ...] = ()
    userinfo: dict[str, Any]
    token_claims: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def activities(self) -> list[dict[str, Any]]:
        """Every ``SubjectRefPro.exercices[].activities[]`` item, in order."""
        result: list[dict[str, Any]] = []
        for exercice in self.userinfo.get("SubjectRefPro", {}).get("exercices", []):
            result.extend(exercice.get("activities", []))
        return result
