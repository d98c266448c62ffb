"""Request and response bodies of the patient API (pydantic), with the examples the OpenAPI document shows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

INS_EXAMPLE = "275126322074974"


class SignInStart(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ins": INS_EXAMPLE}]})

    ins: str = Field(min_length=1, max_length=64, description="The person's INS (matricule, 15 characters)")


class SignInChallenge(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "challenge": "0b5d7c1e-3f43-4d0a-9a55-0e2a1b7c9d10", "expires_at": "2026-12-07T18:05:00Z",
        "delivery": "simulated SMS: GET /sandbox/v1/mes/one-time-codes?ins=275126322074974 returns the code"}]})

    challenge: str
    expires_at: datetime
    delivery: str


class TokenResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "access_token": "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIyNzUxMjYzMjIwNzQ5NzQifQ.sig",
        "token_type": "Bearer", "expires_in": 900}]})

    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class PersonRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "ins": INS_EXAMPLE, "oid": "1.2.250.1.213.1.4.8", "display_name": "Zoe ADRUN", "birth_name": "ADRUN",
        "given_names": "ZOE", "sex": "F", "birth_date": "1975-12-31", "minor": False}]})

    ins: str
    oid: str
    display_name: str
    birth_name: str
    given_names: str
    sex: str
    birth_date: str
    minor: bool


class MeRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "person": {"ins": "180098708555433", "oid": "1.2.250.1.213.1.4.8", "display_name": "Thomas FAURE",
                   "birth_name": "FAURE", "given_names": "THOMAS", "sex": "M", "birth_date": "1980-09-25",
                   "minor": False},
        "represented": [{"ins": "212018708555384", "oid": "1.2.250.1.213.1.4.8", "display_name": "Lea FAURE",
                         "birth_name": "FAURE", "given_names": "LEA", "sex": "F", "birth_date": "2012-01-05",
                         "minor": True}]}]})

    person: PersonRead
    represented: list[PersonRead] = Field(description="The minors the signed-in person legally represents")
