"""The DMP as the patient side reads it, through :mod:`app.dmp.service`: the record of a patient, the DMP's
refusals turned into the patient side's errors, and a stored document as a :class:`DocumentSummary`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.dmp import service as dmp_service
from app.dmp.service import DmpError, Kind
from app.mes.exceptions import MesConflict, MesError, MesInvalid, MesNotFound
from app.mes.persons import Person
from app.mes.views import DocumentSummary
from app.shared import valuesets

T = TypeVar("T")

_CLASS = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
_LOINC = "http://loinc.org"


def translated(exc: DmpError) -> MesError:
    """A DMP refusal in the patient side's words (its rule kept)."""
    french = exc.french or exc.english
    if exc.kind in (Kind.NOT_FOUND, Kind.GONE):
        return MesNotFound(exc.english, rule=exc.rule, french=french)
    if exc.kind in (Kind.CONFLICT, Kind.DUPLICATE, Kind.PRECONDITION_FAILED):
        return MesConflict(exc.english, rule=exc.rule, french=french)
    return MesInvalid(exc.english, rule=exc.rule, french=french,
                      unprocessable=exc.kind not in (Kind.INVALID, Kind.REQUIRED))


async def dmp_call(call: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    try:
        return await call(*args, **kwargs)
    except DmpError as exc:
        raise translated(exc) from None


async def record_of(session: AsyncSession, patient: Person) -> Any:
    """The patient's DMP, or :class:`MesNotFound` (no profile)."""
    record = await dmp_service.get_record(session, ins=patient.ins)
    if record is None:
        raise MesNotFound(f"no DMP (Mon espace santé profile) for {patient.ins}", rule="DMP:exists",
                          french=f"aucun DMP (profil Mon espace santé) pour {patient.ins}")
    return record


def author_name(doc: Any, origin: str, patient: Person) -> str:
    if origin == "patient":
        return patient.display_name
    if origin == "assurance_maladie":
        return "Assurance Maladie"
    given = " ".join(part.capitalize() for part in (doc.author_given or "").split())
    family = " ".join(part.upper() for part in (doc.author_family or "").split())
    return f"{given} {family}".strip() or (f"RPPS {doc.author_rpps}" if doc.author_rpps else "")


def summary(doc: Any, patient: Person) -> DocumentSummary:
    origin = dmp_service.origin_of(doc)
    type_label = valuesets.load("J66").display(doc.type_system, doc.type_code) or doc.type_code
    class_label = valuesets.load("J57").display(doc.class_system, doc.class_code) or doc.class_code
    codes = {lab[1] for lab in doc.labels}
    status = {"Approved": "current", "Deprecated": "superseded"}.get(doc.availability, "deleted")
    return DocumentSummary(
        id=doc.id, title=doc.title, type_code=doc.type_code, type_label=type_label, class_code=doc.class_code,
        class_label=class_label, author_name=author_name(doc, origin, patient), author_rpps=doc.author_rpps,
        origin=origin, date=doc.date, service_date=doc.period_start, submitted_at=doc.created_at, status=status,
        masked="MASQUE_PS" in codes, hidden_from_representatives="INVISIBLE_REPRESENTANTS_LEGAUX" in codes,
        archived=bool(doc.is_archived), content_type=doc.content_type, size=doc.size, format_code=doc.format_code)
