"""What the store can hold, checked before it is asked to: a value longer than its column, or with a
control character no FHIR string may hold (PostgreSQL would fail the INSERT, SQLite keep it). No I/O."""

from __future__ import annotations

from app.dmp.fhir.elements import refuse
from app.dmp.submission import DOCUMENT_LENGTHS, SUBMISSION_LENGTHS, DocumentIn, storable_problem

__all__ = ["DOCUMENT_LENGTHS", "SUBMISSION_LENGTHS", "check_document_lengths", "fits"]


def fits(value: str | None, limit: int | None, *, expression: str) -> None:
    """A value its column cannot hold, refused by name (the rule is the domain's,
    :func:`app.dmp.submission.storable_problem`; this is its FHIR wording)."""
    problem = storable_problem(value, limit)
    if problem is None:
        return
    kind, english, french = problem
    raise refuse(f"{expression} {english}", french=f"{expression} {french}",
                 rule="DMP:element-length" if kind == "length" else "FHIR:string", expression=expression)


def check_document_lengths(doc: DocumentIn, *, x: str, ax: str, inline: bool) -> None:
    """After every profile check, so those keep their precedence; same limits as the tables."""
    n = DOCUMENT_LENGTHS
    fits(doc.unique_id, n["unique_id"], expression=f"{x}.masterIdentifier.value")
    for code, element in ((doc.type, "type"), (doc.category, "category"), (doc.format, "format")):
        where = f"{x}.content[0].format" if element == "format" else f"{x}.{element}"
        column = {"type": "type", "category": "class", "format": "format"}[element]
        fits(code.system, n[f"{column}_system"], expression=f"{where}.system")
        fits(code.code, n[f"{column}_code"], expression=f"{where}.code")
    fits(doc.facility_type.code or None, n["facility_code"], expression=f"{x}.context.facilityType.code")
    fits(doc.practice_setting.code or None, n["practice_code"], expression=f"{x}.context.practiceSetting.code")
    fits(doc.content_type, n["content_type"], expression=f"{ax}.contentType")
    fits(doc.title, n["title"], expression=f"{ax}.title")
    fits(doc.author_rpps, n["author_rpps"], expression=f"{x}.author")
    # stored as " name name " (lower case) for author.given / author.family searches
    fits(" " + " ".join(doc.author_given) + " ", n["author_given"], expression=f"{x}.author.name.given")
    fits(" " + " ".join(doc.author_family) + " ", n["author_family"], expression=f"{x}.author.name.family")
    fits(" " + " ".join(lab[1] for lab in doc.labels) + " ", n["label_codes"], expression=f"{x}.securityLabel")
    for event in doc.events:  # event_codes and related_ids are text columns: no length limit
        fits(event.system, None, expression=f"{x}.context.event.coding.system")
        fits(event.code, None, expression=f"{x}.context.event.coding.code")
    for system, value in doc.related:
        fits(system, None, expression=f"{x}.context.related.identifier.system")
        fits(value, None, expression=f"{x}.context.related.identifier.value")
    if inline:  # ITI-105: the server's submission set takes its designation and title from the document
        s = SUBMISSION_LENGTHS
        fits(doc.category.system, s["designation_system"], expression=f"{x}.category.system")
        fits(doc.category.code, s["designation_code"], expression=f"{x}.category.code")
        fits(doc.category.display, s["designation_display"], expression=f"{x}.category.display")
