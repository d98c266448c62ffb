"""Request and response bodies of the patient API (pydantic), with the examples the OpenAPI document shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

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


PERSON_EXAMPLE: dict[str, Any] = {
    "ins": INS_EXAMPLE, "oid": "1.2.250.1.213.1.4.8", "display_name": "Zoe ADRUN", "birth_name": "ADRUN",
    "given_names": "ZOE", "sex": "F", "birth_date": "1975-12-31", "minor": False}


class PersonRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PERSON_EXAMPLE]})

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


DOC_EXAMPLE: dict[str, Any] = {
    "id": "5b0e7c9e-2f6a-4a59-9a1f-1c7d3e0b8a11", "title": "CR d'examens biologiques", "type_code": "11502-2",
    "type_label": "CR d'examens biologiques", "class_code": "10", "class_label": "Compte rendu",
    "author_name": "Claire FONTAINE", "author_rpps": "10001000003", "origin": "professional",
    "date": "2026-03-02T07:30:00Z", "service_date": "2026-03-02T07:30:00Z", "submitted_at": "2026-12-07T17:00:00Z",
    "status": "current", "masked": False, "hidden_from_representatives": False, "archived": False,
    "content_type": "application/xml", "size": 2960, "format_code": "urn:ihe:iti:xds-sd:pdf:2008"}


class DocumentRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DOC_EXAMPLE]})

    id: str
    title: str
    type_code: str
    type_label: str
    class_code: str
    class_label: str
    author_name: str
    author_rpps: str | None
    origin: str = Field(description="professional, patient (added by the patient) or assurance_maladie")
    date: datetime
    service_date: datetime
    submitted_at: datetime
    status: str
    masked: bool = Field(description="masked from professionals (MASQUE_PS); its author still sees it")
    hidden_from_representatives: bool
    archived: bool
    content_type: str
    size: int
    format_code: str


class DocumentDetailRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "document": DOC_EXAMPLE, "labels": [["http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N",
                                             "normal"]],
        "facility_code": "SA01", "practice_code": "ETABLISSEMENT", "replaces": None, "replaced_by": None,
        "is_cda": True, "may_mask": True, "may_delete": True, "may_hide_from_representatives": False}]})

    document: DocumentRead
    labels: list[list[str]]
    facility_code: str
    practice_code: str
    replaces: str | None
    replaced_by: str | None
    is_cda: bool
    may_mask: bool
    may_delete: bool
    may_hide_from_representatives: bool


class MaskSet(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"masked": True}]})

    masked: bool


class HiddenSet(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"hidden": True}]})

    hidden: bool


class ProfileRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "person": PERSON_EXAMPLE,
        "dmp_state": "active", "closed_at": None, "closure_reason": None, "emergency_access": {
            "bris_de_glace": True, "centre_15": True}, "documents": 5, "unread_notifications": 0,
        "acting_as_representative": False}]})

    person: PersonRead
    dmp_state: str = Field(description="active, closed, opposed (creation objected to) or none")
    closed_at: datetime | None
    closure_reason: str | None
    emergency_access: dict[str, bool] = Field(description="True: accepted; False: the patient opposes it")
    documents: int
    unread_notifications: int
    acting_as_representative: bool


class CloseProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "je ne souhaite plus"}]})

    reason: str | None = Field(default=None, max_length=1024)


class ProfessionalRead(BaseModel):
    rpps: str
    name: str
    profession: str
    status: str
    medecin_traitant: bool
    blocked: bool


_PRO: dict[str, Any] = {"rpps": "10001000016", "name": "Claire FONTAINE", "profession": "Médecin", "status": "VALIDE",
        "medecin_traitant": True, "blocked": False}


class AccessRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "authorised": [_PRO], "blocked": [], "medecins_traitants": [_PRO],
        "emergency_access": {"bris_de_glace": True, "centre_15": True}}]})

    authorised: list[ProfessionalRead]
    blocked: list[ProfessionalRead]
    medecins_traitants: list[ProfessionalRead]
    emergency_access: dict[str, bool] = Field(description="True: accepted; False: the patient opposes it")


class ProfessionalRef(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rpps": "10001000016"}]})

    rpps: str = Field(min_length=1, max_length=32, description="RPPS (11 digits) or IDNPS (8 + RPPS)")


class EmergencySet(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"bris_de_glace": False}]})

    bris_de_glace: bool | None = Field(default=None, description="True accepts break-glass access, False opposes it")
    centre_15: bool | None = Field(default=None, description="True accepts centre 15 access, False opposes it")


class ActivityRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 42, "at": "2026-12-07T17:02:00Z", "who_name": "Claire Fontaine", "who_rpps": "10001000016",
        "client_id": "segur-sandbox-confidential", "transaction": "ITI-67",
        "what": "Recherche dans la liste des documents (FHIR)", "action": "E", "access_mode": "bris_de_glace",
        "access_mode_label": "bris de glace (urgence)", "reason": "patient inconscient", "outcome": "success",
        "outcome_text": None, "document_ids": [], "document_titles": []}]})

    id: int
    at: datetime
    who_name: str
    who_rpps: str | None
    client_id: str | None
    transaction: str
    what: str
    action: str
    access_mode: str
    access_mode_label: str
    reason: str | None
    outcome: str
    outcome_text: str | None
    document_ids: list[str]
    document_titles: list[str]


class NotificationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 1, "kind": "new_document", "title": "Nouveau document dans votre profil",
        "body": "Claire Fontaine a ajouté « CR d'examens biologiques » à votre dossier médical le 07/12/2026 "
                "17:02 UTC.",
        "occurred_at": "2026-12-07T17:02:00Z", "read": False, "mailed_to": None,
        "document_ids": ["5b0e7c9e-2f6a-4a59-9a1f-1c7d3e0b8a11"]}]})

    id: int
    kind: str = Field(description="new_document, bris_de_glace, centre_15 or message")
    title: str
    body: str
    occurred_at: datetime
    read: bool
    mailed_to: str | None
    document_ids: list[str]


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ids": [1, 2]}, {}]})

    # ids are 32-bit (a PostgreSQL integer): a larger one is the client's error, not the database's
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(default=None, max_length=1000,
                                                                      description="None: every notification")


class MarkedRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"marked": 2}]})

    marked: int


class NotificationSettingsRead(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "email": "275126322074974@patient.mssante.fr"}, {"email": None}]})

    email: str | None = Field(default=None, max_length=320,
                              description="A mailbox of the sandbox's MSSanté store; null: no mail")
