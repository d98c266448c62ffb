"""The conformance report of one client over a window of the journal: every requirement's verdict, in JSON,
JUnit XML (one ``<testsuite>`` per service, one ``<testcase>`` per requirement: ``<failure>`` when failed,
``<skipped>`` when not exercised; the shape CI systems read, reference/segur-requirements.md §3.4) and
HTML. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from lxml import etree

from app.conformance.catalogue import CATALOGUE, SUITES, Requirement
from app.conformance.model import Entry, Verdict
from app.conformance.rules import verdict_of
from app.xmlsafe import xml_text

STATUSES = ("passed", "failed", "not_exercised")


@dataclass(frozen=True)
class Result:
    requirement: Requirement
    verdict: Verdict

    def as_dict(self) -> dict[str, Any]:
        r = self.requirement
        return {"number": r.number, "id": r.id, "service": r.service, "title": r.title, "source": r.source,
                "observability": "S*" if r.hook else "S", "status": self.verdict.status,
                "message": self.verdict.message, "entries": list(self.verdict.entries)}


@dataclass(frozen=True)
class Report:
    client: str
    identities: tuple[str, ...]
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    entries: int
    results: tuple[Result, ...]

    def count(self, status: str, suite: str | None = None) -> int:
        return sum(1 for r in self.results if r.verdict.status == status
                   and (suite is None or r.requirement.suite == suite))

    def suite(self, name: str) -> list[Result]:
        return [r for r in self.results if r.requirement.suite == name]

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "identities": list(self.identities),
            "since": self.since,
            "until": self.until,
            "generated_at": self.generated_at,
            "entries": self.entries,
            "summary": {status: self.count(status) for status in STATUSES},
            "requirements": [r.as_dict() for r in self.results],
        }


def evaluate(entries: Sequence[Entry], *, client: str, identities: Sequence[str] = (),
             since: datetime | None = None, until: datetime | None = None, now: datetime) -> Report:
    """Every requirement's rule on ``entries`` (one client's, in journal order)."""
    ordered = sorted(entries, key=lambda e: e.id)
    identities = tuple(identities) or (client,)
    results = tuple(Result(r, verdict_of(r.number, ordered, identities=identities)) for r in CATALOGUE)
    return Report(client=client, identities=identities, since=since, until=until,
                  generated_at=now, entries=len(ordered), results=results)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def junit(report: Report, *, entry_url: str | None = None) -> bytes:
    """JUnit XML: ``<testsuites>`` with one ``<testsuite>`` per service (INS, DMP, MSS, PSC). ``entry_url``
    (``...journal?request_id=`` style prefix or None) is not used for ids: the failure text lists the journal
    entry ids, readable with ``GET /sandbox/v1/journal``. What came from a client (its identities, the
    messages quoting its requests' facts) is cleaned of the characters XML 1.0 does not allow first."""
    client = xml_text(report.client)
    root = etree.Element("testsuites", name=f"Ségur conformance: {client}",
                         tests=str(len(report.results)), failures=str(report.count("failed")), errors="0",
                         disabled="0", time="0")
    for index, name in enumerate(SUITES):
        results = report.suite(name)
        suite = etree.SubElement(root, "testsuite", name=name, tests=str(len(results)),
                                 failures=str(report.count("failed", name)), errors="0",
                                 skipped=str(report.count("not_exercised", name)), time="0", id=str(index),
                                 package="segur", timestamp=report.generated_at.strftime("%Y-%m-%dT%H:%M:%S"),
                                 hostname="segur-sandbox")
        properties = etree.SubElement(suite, "properties")
        for key, value in (("client", client), ("identities", xml_text(" ".join(report.identities))),
                           ("since", _iso(report.since)), ("until", _iso(report.until)),
                           ("journal_entries", str(report.entries))):
            etree.SubElement(properties, "property", name=key, value=value)
        for result in results:
            r, verdict = result.requirement, result.verdict
            message = xml_text(verdict.message)
            case = etree.SubElement(suite, "testcase", classname=f"segur.{name}", name=f"{r.id}: {r.title}",
                                    time="0")
            if verdict.status == "failed":
                failure = etree.SubElement(case, "failure", type=r.id, message=message)
                failure.text = (f"#{r.number} {r.id} ({r.source})\n{message}\njournal entries: "
                                + " ".join(str(i) for i in verdict.entries)
                                + (f"\n{entry_url}" if entry_url else ""))
            elif verdict.status == "not_exercised":
                etree.SubElement(case, "skipped", message=message)
            else:
                out = etree.SubElement(case, "system-out")
                out.text = f"{message}\njournal entries: " + " ".join(str(i) for i in verdict.entries)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


_TEMPLATES = Environment(
    loader=FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def html(report: Report, *, journal_url: str = "/sandbox/v1/journal") -> str:
    """A readable page, French first with English beside, no external asset."""
    return _TEMPLATES.get_template("report.html").render(report=report, suites=SUITES, journal_url=journal_url)
