"""Consultation queries (ITI-67 documents, ITI-66 submission sets), from typed search values.

A face parses its search syntax into a :class:`DocumentSearch` or a :class:`SubmissionSetSearch`; the
visibility rules (:mod:`app.dmp.rules`: deleted documents only to their author, and only when asked for;
masked documents only to their author, §2.1, §2.4) are applied in SQL here, so a page never holds what the
caller may not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dmp import rules
from app.dmp.filters import DateRange, Token, date_clauses, like_tokens, name_starts_with, token_clause
from app.dmp.models import DmpDocument, DmpRecord, DmpSubmissionSet
from app.tenancy import current_tenant


@dataclass(frozen=True)
class DocumentSearch:
    """An ITI-67 search: the statuses asked for (current, superseded, entered-in-error) and each filter
    (empty: not filtered on); ``identifiers`` are uniqueIds or logical ids."""

    statuses: frozenset[str]
    creation: Sequence[DateRange] = ()
    period: Sequence[DateRange] = ()
    period_start: Sequence[DateRange] = ()
    period_end: Sequence[DateRange] = ()
    author_given: Sequence[str] = ()
    author_family: Sequence[str] = ()
    category: Sequence[Token] = ()
    type: Sequence[Token] = ()
    format: Sequence[Token] = ()
    setting: Sequence[Token] = ()
    facility: Sequence[Token] = ()
    event: Sequence[Token] = ()
    related: Sequence[Token] = ()
    security_label: Sequence[Token] = ()
    identifiers: Sequence[str] = ()
    is_archived: bool | None = None
    count: int = 20
    offset: int = 0
    # XDS stored queries (ITI-18): coded parameters with AND/OR semantics (each group ORed, groups ANDed) and
    # authorPerson patterns (``%`` / ``_`` wildcards, matched against the author's XCN), unused by FHIR
    event_groups: Sequence[Sequence[Token]] = ()
    security_label_groups: Sequence[Sequence[Token]] = ()
    author_person: Sequence[str] = ()


# The author as an XCN, as the XDS face writes it (app.dmp.soap.ebrim_out.person_xcn: the CI-SIS form with the
# national PS identifier 8 + RPPS), lower-cased: what an ITI-18 $XDSDocumentEntryAuthorPerson pattern is matched
# against (ITI TF-2a §3.18.4.1.2.3.7.1: LIKE, with % and _).
_AUTHOR_XCN = func.lower(
    "8" + func.coalesce(DmpDocument.author_rpps, "") + "^" + func.trim(DmpDocument.author_family) + "^"
    + func.trim(DmpDocument.author_given) + "^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS")


def _document_filters(search: DocumentSearch) -> list[Any]:
    d = DmpDocument
    filters: list[Any] = [
        # ITI-67 ``creation`` and ITI-18 $XDSDocumentEntryCreationTime*: DocumentReference.date, the DMP's
        # creationTime (PDSm4DMP annexe_dates_xds_fhir.md), as ebrim_out.creation_time renders it
        *date_clauses(d.date, search.creation),
        *date_clauses(d.period_start, search.period, end_column=d.period_end),
        *date_clauses(d.period_start, search.period_start),
        *date_clauses(d.period_end, search.period_end),
    ]
    if search.author_given:
        filters.append(name_starts_with(d.author_given, search.author_given))
    if search.author_family:
        filters.append(name_starts_with(d.author_family, search.author_family))
    for tokens, system, code in ((search.category, d.class_system, d.class_code),
                                 (search.type, d.type_system, d.type_code),
                                 (search.format, d.format_system, d.format_code),
                                 (search.setting, None, d.practice_code),
                                 (search.facility, None, d.facility_code)):
        if tokens:
            filters.append(token_clause(system, code, tokens))
    if search.event:
        filters.append(like_tokens(d.event_codes, search.event))
    if search.related:
        filters.append(like_tokens(d.related_ids, search.related))
    if search.security_label:
        filters.append(like_tokens(d.label_codes, search.security_label, with_system=False))
    if search.identifiers:
        options = []
        for value in search.identifiers:
            options += [d.unique_id == value, d.id == value.removeprefix("urn:uuid:")]
        filters.append(or_(*options))
    if search.is_archived is not None:
        filters.append(d.is_archived.is_(search.is_archived))
    filters += [like_tokens(d.event_codes, group) for group in search.event_groups]
    filters += [like_tokens(d.label_codes, group, with_system=False) for group in search.security_label_groups]
    if search.author_person:
        filters.append(or_(*(_AUTHOR_XCN.like(pattern.lower()) for pattern in search.author_person)))
    return filters


def _visible_clause(caller: rules.Caller, statuses: frozenset[str]) -> Any:
    availability = []
    if "current" in statuses:
        availability.append("Approved")
    if "superseded" in statuses:
        availability.append("Deprecated")
    clauses: list[ColumnElement[bool]] = [DmpDocument.availability.in_(availability)] if availability else []
    if "entered-in-error" in statuses and caller.rpps:
        # Deleted documents are only ever shown to their author, and only when asked for (§2.1).
        clauses.append(and_(DmpDocument.availability == "Deleted", DmpDocument.author_rpps == caller.rpps))
    status_clause = or_(*clauses) if clauses else false()
    masked = or_(DmpDocument.masked_ps.is_(False), DmpDocument.author_rpps == (caller.rpps or ""))
    return and_(status_clause, masked)


async def search_documents(session: AsyncSession, *, record: DmpRecord, caller: rules.Caller,
                           search: DocumentSearch) -> tuple[list[DmpDocument], int]:
    """One page of the documents the caller sees, newest first, and how many match in all."""
    where = and_(DmpDocument.dmp_id == record.id, _visible_clause(caller, search.statuses),
                 *_document_filters(search))
    rows = (await session.execute(select(DmpDocument).where(where).order_by(DmpDocument.date.desc(),
                                                                            DmpDocument.id)
                                  .limit(search.count).offset(search.offset))).scalars().all()
    if search.offset == 0 and len(rows) < search.count:
        return list(rows), len(rows)  # the page holds everything: no count query
    total = (await session.execute(select(func.count()).select_from(DmpDocument).where(where))).scalar_one()
    return list(rows), total


@dataclass(frozen=True)
class SubmissionSetSearch:
    """An ITI-66 search. ``matches_nothing``: a filter only folders or non-current lists would meet (the
    sandbox keeps neither)."""

    submission_time: Sequence[DateRange] = ()
    source_ids: Sequence[str] = ()
    designation_type: Sequence[Token] = ()
    identifiers: Sequence[str] = ()
    matches_nothing: bool = False
    count: int = 20
    offset: int = 0


async def search_submission_sets(session: AsyncSession, *, record: DmpRecord, search: SubmissionSetSearch
                                 ) -> tuple[list[DmpSubmissionSet], int]:
    s = DmpSubmissionSet
    filters: list[Any] = [s.id.is_(None)] if search.matches_nothing else []
    filters += date_clauses(s.submission_time, search.submission_time)
    if search.source_ids:
        filters.append(s.source_id.in_(list(search.source_ids)))
    if search.designation_type:
        filters.append(token_clause(s.designation_system, s.designation_code, search.designation_type))
    if search.identifiers:
        values = list(search.identifiers)
        filters.append(or_(s.unique_id.in_(values), s.id.in_([v.removeprefix("urn:uuid:") for v in values])))
    where = and_(s.dmp_id == record.id, *filters)
    total = (await session.execute(select(func.count()).select_from(s).where(where))).scalar_one()
    rows = (await session.execute(select(s).where(where).order_by(s.submission_time.desc(), s.id)
                                  .limit(search.count).offset(search.offset))).scalars().all()
    return list(rows), total


async def get_submission_set(session: AsyncSession, *, list_id: str) -> DmpSubmissionSet | None:
    return await session.get(DmpSubmissionSet, (current_tenant(), list_id))


async def find_by_identifier(session: AsyncSession, value: str) -> list[DmpDocument]:
    """``masterIdentifier`` (uniqueId) or ``identifier`` (``urn:uuid:<id>``) of a DocumentReference."""
    clauses = [DmpDocument.unique_id == value]
    if value.startswith("urn:uuid:"):
        clauses.append(DmpDocument.id == value.removeprefix("urn:uuid:"))
    return list((await session.execute(select(DmpDocument).where(or_(*clauses)))).scalars().all())
