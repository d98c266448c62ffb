"""The control API's fault rule, in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import AwareInstant
from app.faults.rules import KINDS, TARGETS

Kind = Literal["unavailable", "slow", "wrong_answer", "expired_token", "revoked_token"]
assert set(KINDS) == set(get_args(Kind))  # noqa: S101 - one list of kinds


class FaultRuleCreate(BaseModel):
    """A fault rule: which calls (target, client, trigger) fail, and how (kind)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"target": "ins.search_traits", "kind": "unavailable", "count": 2},
        {"target": "dmp.iti65", "kind": "slow", "delay_ms": 3000, "probability": 0.3, "seed": "run-42"},
        {"target": "ins.search_traits", "kind": "wrong_answer", "answer": "02",
         "from": "2026-12-07T10:00:00Z", "until": "2026-12-07T10:05:00Z"},
        {"target": "psc.userinfo", "kind": "expired_token", "count": 1, "client": "psc:segur-sandbox-confidential"},
    ]})

    target: str = Field(max_length=64, description="service.operation: " + ", ".join(TARGETS),
                        examples=["ins.search_traits"])
    kind: Kind = Field(description="what the face answers: its real unavailability failure, a delay, a "
                                   "wrong-but-valid answer (INSi CR 01/02), an expired or revoked token")
    delay_ms: int | None = Field(None, description="slow: the delay before the normal answer", examples=[2000])
    answer: Literal["01", "02"] | None = Field(None, description="wrong_answer: INSi's CodeCR 01 or 02")
    count: int | None = Field(None, ge=1, le=1_000_000, description="only the next `count` matching calls")
    from_: AwareInstant | None = Field(None, alias="from", description="window start (inclusive)")
    until: AwareInstant | None = Field(None, description="window end (exclusive)")
    probability: float | None = Field(None, gt=0, le=1, description="each matching call fails with this "
                                      "probability; the k-th call's draw depends only on `seed` and k")
    seed: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[^\x00]*$")
    client: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[^\x00]*$",
                               description="only calls of this actor (the journal's `actor`, e.g. "
                                           "`psc:<client_id>`, `ins:<IDAM>`, `mss:<login>`)")


class FaultRuleRead(BaseModel):
    id: int
    target: str
    kind: str
    delay_ms: int | None
    answer: str | None
    count: int | None
    from_: datetime | None = Field(alias="from", serialization_alias="from")
    until: datetime | None
    probability: float | None
    seed: str | None
    client: str | None
    calls: int = Field(description="matching calls counted so far (a spent rule counts no more)")
    injected: int = Field(description="faults injected so far")
    created_at: datetime

    model_config = ConfigDict(populate_by_name=True)


class FaultRulesDeleted(BaseModel):
    deleted: int
