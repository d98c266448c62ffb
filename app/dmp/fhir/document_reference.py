"""One DocumentReference read against its PDSm profile, without I/O: the comprehensive profile of an ITI-65
entry, or the simplified-publish profile of ITI-105 (where the server fills what XDS needs,
:mod:`app.dmp.simplified`). Every independent refusal is reported, one OperationOutcome issue each.

Sources: PDSm 3.1.1 ``pdsm-comprehensive-document-reference`` and ``pdsm-simplified-publish``
(reference/dmp.md §1.2); PDSm4DMP TD2 / TD2.1 (replacement: ``relatesTo=replaces``); IHE ITI TF-3
§4.2.3.2.26 (uniqueId). Strict by default, as the comprehensive profile is; ``lenient=True``
(``SEGUR_DMP_LENIENT``) turns value-set misses into accepted codes but keeps every structural rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.api.errors import FhirError, FhirIssues
from app.dmp import simplified
from app.dmp.codes import check_code
from app.dmp.exceptions import (
    XDS_MISSING_DOCUMENT,
    XDS_REPOSITORY_METADATA,
    DmpError,
)
from app.dmp.fhir import references
from app.dmp.fhir.elements import (
    COMPREHENSIVE,
    LOGICAL_REF,
    SIMPLIFIED,
    DocProfile,
    Lookup,
    author_info,
    decode_binary,
    fhir_validate,
    no_entry,
    one_coding,
    parse_datetime,
    patient_from_reference,
    refuse,
)
from app.dmp.fhir.errors import to_fhir
from app.dmp.fhir.storable import check_document_lengths
from app.dmp.patch import IS_ARCHIVED_URL, normalise_label
from app.dmp.submission import Code, DocumentIn, PatientId, sha1_b64
from app.dmp.uniqueid import unique_id_problem


@contextmanager
def _under(issues: FhirIssues, profile: DocProfile) -> Iterator[None]:
    """One independent check of a DocumentReference: its refusal is kept, naming the profile applied."""
    try:
        yield
    except (FhirError, DmpError) as refused:
        error = to_fhir(refused) if isinstance(refused, DmpError) else refused
        for issue in error.issues:
            if profile.id not in issue.diagnostics:
                issue.diagnostics += f" [profile {profile.id}]"
                issue.args = (issue.diagnostics,)
                if issue.french:
                    issue.french += f" [profil {profile.id}]"
            issues.add(issue)


def _check_unique_id(value: str, *, expression: str) -> None:
    problem = unique_id_problem(value)
    if problem is not None:
        english, french = problem
        raise refuse(f"{expression}: {english} (IHE ITI TF-3 §4.2.3.2.26)", french=f"{expression} : {french} "
                     "(IHE ITI TF-3 §4.2.3.2.26)", rule="XDS:DocumentEntry.uniqueId", expression=expression)


def parse_document_reference(
    resource: dict[str, Any], *, index: int, full_url: str, binaries: dict[str, tuple[str, bytes]],
    lookup: Lookup = no_entry, lenient: bool, inline: bool = False, entry_patient: PatientId | None = None,
) -> DocumentIn:
    """Check one DocumentReference against the PDSm comprehensive profile (ITI-65, ``binaries`` keyed by the
    attachment.url as written) or the PDSm simplified-publish profile (``inline``, ITI-105; the server fills
    what XDS needs, :mod:`app.dmp.simplified`). Every independent refusal is reported (one issue each)."""
    profile = SIMPLIFIED if inline else COMPREHENSIVE
    x = "DocumentReference" if inline else f"Bundle.entry[{index}].resource"
    rule = profile.rule + "DocumentReference."
    issues = FhirIssues()
    stored = dict(resource)  # what is stored: as sent, plus what the server fills for ITI-105

    def required(element: str, what: str = "", what_fr: str = "", *, rule_id: str | None = None) -> FhirError:
        return refuse(f"{x}.{element}{what} is required by {profile.english}",
                      french=f"{x}.{element}{what_fr} est obligatoire dans {profile.french}",
                      rule=rule_id or rule + element, expression=f"{x}.{element}")

    unique_id = type_ = category = fmt = facility = practice = None
    patient = date = period_start = period_end = None
    author_rpps: str | None = None
    given: list[str] = []
    family: list[str] = []
    labels: list[tuple[str, str, str]] = []
    attachment: dict[str, Any] = {}
    data, size, hash_b64, ax = b"", 0, "", f"{x}.content[0].attachment"
    with _under(issues, profile):
        master = resource.get("masterIdentifier") or {}
        if not master.get("value"):
            raise required("masterIdentifier", " (the document's uniqueId)", " (l'identifiant unique du document)")
        unique_id = str(master["value"])
        _check_unique_id(unique_id, expression=f"{x}.masterIdentifier.value")
    with _under(issues, profile):
        if resource.get("status") != "current":
            raise refuse(f"{x}.status must be 'current' on submission, not {resource.get('status')!r}",
                         french=f"{x}.status doit valoir « current » au dépôt, et non {resource.get('status')!r}",
                         rule=rule + "status", expression=f"{x}.status")
    with _under(issues, profile):
        patient = patient_from_reference((resource.get("subject") or {}).get("reference"), expression=f"{x}.subject",
                                         patient_ids={}, entry_patient=entry_patient)
    with _under(issues, profile):
        if inline and not resource.get("type"):
            # optional in pdsm-simplified-publish, 1..1 in the DMP's DocumentEntry model (PDSm4DMP
            # input/fsh/Model/DocumentEntry.fsh): checked against J66 and the source of the classCode.
            raise refuse(f"{x}.type is required by the DMP (PDSm4DMP DocumentEntry.type 1..1, JDV_J66): the "
                         "simplified-publish profile leaves it optional, the DMP registry does not",
                         french=f"{x}.type est obligatoire pour le DMP (PDSm4DMP DocumentEntry.type 1..1, JDV_J66) : "
                                "le profil de publication simplifiée le laisse facultatif, le registre du DMP non",
                         rule="PDSm4DMP:DocumentEntry.type", expression=f"{x}.type")
        type_ = one_coding(resource.get("type"), expression=f"{x}.type", rule=rule + "type", profile=profile)
        assert type_ is not None
        check_code("type", type_, expression=f"{x}.type", lenient=lenient, rule_prefix=profile.rule)
    with _under(issues, profile):
        categories = resource.get("category") or []
        if not categories and inline and type_ is not None:
            derived = simplified.class_of_type(type_.system, type_.code)
            if derived is None:
                raise refuse(f"{x}.category is absent and the sandbox cannot derive the classCode from type "
                             f"{type_.system}#{type_.code} (ASS_X04 subset, docs/dmp.md): give category (JDV_J57)",
                             french=f"{x}.category est absent et le bac à sable ne sait pas déduire la classe du "
                                    f"document du type {type_.system}#{type_.code} (extrait d'ASS_X04, docs/dmp.md) : "
                                    "renseigner category (JDV_J57)",
                             rule="PDSm4DMP:DocumentEntry.class", expression=f"{x}.category")
            category = Code(*derived)
            stored["category"] = [{"coding": [category.as_coding()]}]
        elif categories or not inline:
            category = one_coding(categories[0] if categories else None, expression=f"{x}.category",
                                   rule=rule + "category", profile=profile)
            assert category is not None
            check_code("category", category, expression=f"{x}.category", lenient=lenient, rule_prefix=profile.rule)
    with _under(issues, profile):
        if not resource.get("date"):
            raise required("date", " (creationTime)", " (creationTime)")
        date = parse_datetime(resource["date"], expression=f"{x}.date", rule=rule + "date")
    with _under(issues, profile):
        authors = resource.get("author") or []
        if not authors:
            raise refuse(f"{x}.author is required (1..*) by {profile.english}: the professional, device or "
                         "organisation that wrote it, usually a contained Practitioner/PractitionerRole with its RPPS",
                         french=f"{x}.author est obligatoire (1..*) dans {profile.french} : le professionnel, le "
                                "dispositif ou l'organisation auteur, en général un Practitioner/PractitionerRole "
                                "contenu portant son RPPS", rule=rule + "author", expression=f"{x}.author")
        author_rpps, given, family = author_info(resource, authors, lookup, expression=f"{x}.author")
    with _under(issues, profile):
        if not resource.get("custodian"):
            raise required("custodian", " (1..1)", " (1..1)")
    with _under(issues, profile):
        raw_labels = resource.get("securityLabel") or []
        if not raw_labels and inline:
            labels = [simplified.DEFAULT_LABEL]
        elif not raw_labels:
            raise refuse(f"{x}.securityLabel is required by {profile.english}: 1..4 codes of JDV_J58 (e.g. "
                         "v3-Confidentiality#N)", french=f"{x}.securityLabel est obligatoire dans {profile.french} : "
                         "1 à 4 codes du JDV_J58 (par exemple v3-Confidentiality#N)",
                         rule=rule + "securityLabel", expression=f"{x}.securityLabel")
        if len(raw_labels) > 4:
            raise refuse(f"{x}.securityLabel holds {len(raw_labels)} codes; the DMP accepts 1 to 4",
                         french=f"{x}.securityLabel porte {len(raw_labels)} codes ; le DMP en accepte de 1 à 4",
                         rule="PDSm4DMP:confidentiality-1..4", expression=f"{x}.securityLabel")
        for i, label in enumerate(raw_labels):
            code = one_coding(label, expression=f"{x}.securityLabel[{i}]", rule=rule + "securityLabel")
            assert code is not None
            check_code("securityLabel", code, expression=f"{x}.securityLabel[{i}]", lenient=lenient,
                       rule_prefix=profile.rule)
            labels.append(normalise_label(code.system, code.code, code.display))
    content: dict[str, Any] = {}
    with _under(issues, profile):
        contents = resource.get("content") or []
        if len(contents) != 1:
            raise refuse(f"{x}.content must hold exactly one attachment (one document per DocumentReference), "
                         f"found {len(contents)}", french=f"{x}.content doit porter exactement une pièce jointe (un "
                         f"document par fiche), trouvé {len(contents)}", rule=rule + "content",
                         expression=f"{x}.content")
        content = contents[0]
        attachment = content.get("attachment") or {}
        data, size, hash_b64 = _attachment(attachment, ax=ax, rule=rule, profile=profile, binaries=binaries,
                                           inline=inline, issues=issues)
    if content:
        with _under(issues, profile):
            if not content.get("format") and inline:
                fmt = Code(*simplified.DEFAULT_FORMAT)
                stored["content"] = [{**content, "format": fmt.as_coding()}, *resource["content"][1:]]
            else:
                fmt = one_coding({"coding": [content["format"]]} if content.get("format") else None,
                                  expression=f"{x}.content[0].format", rule=rule + "content.format", profile=profile)
                assert fmt is not None
                check_code("format", fmt, expression=f"{x}.content[0].format", lenient=lenient,
                           rule_prefix=profile.rule)
    context = resource.get("context") or {}
    with _under(issues, profile):
        period = context.get("period") or {}
        if not period.get("start") and inline and date is not None:
            # serviceStartTime unknown: the act is taken to be when the document was written (creationTime)
            period_start = date
            stored["context"] = {**context, "period": {**period, "start": resource["date"]}}
        elif not period.get("start"):
            raise required("context.period.start", " (serviceStartTime)", " (serviceStartTime)")
        else:
            period_start = parse_datetime(period["start"], expression=f"{x}.context.period.start",
                                          rule=rule + "context.period.start")
        period_end = parse_datetime(period["end"], expression=f"{x}.context.period.end",
                                    rule=rule + "context.period.end") if period.get("end") else None
    with _under(issues, profile):
        facility = one_coding(context.get("facilityType"), expression=f"{x}.context.facilityType",
                               rule=rule + "context.facilityType", required=not inline, profile=profile)
        if facility is not None:
            check_code("facilityType", facility, expression=f"{x}.context.facilityType", lenient=lenient,
                       rule_prefix=profile.rule)
    with _under(issues, profile):
        practice = one_coding(context.get("practiceSetting"), expression=f"{x}.context.practiceSetting",
                               rule=rule + "context.practiceSetting", required=not inline, profile=profile)
        if practice is not None:
            check_code("practiceSetting", practice, expression=f"{x}.context.practiceSetting", lenient=lenient,
                       rule_prefix=profile.rule)
    events: list[Code] = []
    with _under(issues, profile):
        events = [c for c in (one_coding(e, expression=f"{x}.context.event", rule=rule + "context.event",
                                          required=False) for e in context.get("event") or []) if c]
    related = []
    for rel in context.get("related") or []:
        identifier = rel.get("identifier") or {}
        if identifier.get("value"):
            related.append((identifier.get("system"), identifier["value"]))
    replaces = None
    with _under(issues, profile):
        replaces = _replaced(resource, x=x)
    archived = False
    for ext in resource.get("extension") or []:
        if ext.get("url") == IS_ARCHIVED_URL:
            archived = bool(ext.get("valueBoolean"))
    creation = None
    with _under(issues, profile):
        if attachment.get("creation"):
            creation = parse_datetime(attachment["creation"], expression=f"{ax}.creation",
                                      rule=rule + "content.attachment.creation")
    issues.raise_any()
    assert unique_id is not None and patient is not None and type_ is not None and category is not None
    assert fmt is not None and date is not None and period_start is not None
    doc = DocumentIn(
        entry_index=index, full_url=full_url, unique_id=unique_id, patient=patient,
        type=type_, category=category, format=fmt,
        # optional in pdsm-simplified-publish: an absent one is stored empty (unknown; no search matches it)
        facility_type=facility or Code("", ""), practice_setting=practice or Code("", ""),
        labels=labels, title=str(attachment["title"]), content_type=str(attachment["contentType"]),
        language=attachment.get("language"), size=size, hash_b64=hash_b64, creation=creation,
        date=date, period_start=period_start, period_end=period_end, author_rpps=author_rpps,
        author_given=given, author_family=family, events=events, related=related, replaces=replaces,
        is_archived=archived, data=data, resource=stored,
    )
    with _under(issues, profile):
        check_document_lengths(doc, x=x, ax=ax, inline=inline)
    issues.raise_any()
    return doc


def _attachment(attachment: dict[str, Any], *, ax: str, rule: str, profile: DocProfile,
                binaries: dict[str, tuple[str, bytes]], inline: bool, issues: FhirIssues) -> tuple[bytes, int, str]:
    """The document's bytes, size and SHA-1 (base64): from ``data`` (ITI-105) or the Binary entry the url
    resolves to (ITI-65). The size and hash are checked when given; ITI-105 may leave them out (the server
    computes them, MHD SimplifiedPublish ``size 0..1``, ``hash 0..1``)."""
    missing = [e for e in (("contentType", "title") if inline else ("contentType", "title", "size", "hash"))
               if attachment.get(e) in (None, "")]
    for element in missing:
        with _under(issues, profile):
            raise refuse(f"{ax}.{element} is required by {profile.english}",
                         french=f"{ax}.{element} est obligatoire dans {profile.french}",
                         rule=rule + f"content.attachment.{element}", expression=f"{ax}.{element}")
    if inline:
        if attachment.get("url"):
            raise refuse(f"{ax}.url must be absent (0..0) in a simplified publish: the document goes in .data",
                         french=f"{ax}.url doit être absent (0..0) dans une publication simplifiée : le document va "
                                "dans .data", rule=rule + "content.attachment.url", expression=f"{ax}.url")
        if not attachment.get("data"):
            raise refuse(f"{ax}.data is required for a simplified publish (ITI-105)", rule="PDSm:ITI-105.data",
                         french=f"{ax}.data est obligatoire pour une publication simplifiée (ITI-105)",
                         expression=f"{ax}.data", details_code=XDS_MISSING_DOCUMENT)
        data = decode_binary(attachment["data"], expression=ax)
    else:
        url = attachment.get("url")
        if not url:
            raise refuse(f"{ax}.url is required: the fullUrl (urn:uuid:…, or Binary/<id> beside a RESTful fullUrl) "
                         "of a Binary entry of this Bundle", french=f"{ax}.url est obligatoire : le fullUrl "
                         "(urn:uuid:…, ou Binary/<id> à côté d'un fullUrl RESTful) d'une entrée Binary de ce Bundle",
                         rule="MHD:ITI-65.attachment-url", expression=f"{ax}.url", details_code=XDS_MISSING_DOCUMENT)
        if url not in binaries:
            raise _unresolved(url, expression=f"{ax}.url", binaries=binaries)
        binary_type, data = binaries[url]
        if "contentType" not in missing and binary_type != attachment["contentType"]:
            raise refuse(f"{ax}.contentType {attachment['contentType']!r} differs from the Binary's "
                         f"contentType {binary_type!r}", french=f"{ax}.contentType {attachment['contentType']!r} "
                         f"diffère du contentType de la Binary {binary_type!r}",
                         rule=rule + "content.attachment.contentType", expression=f"{ax}.contentType",
                         details_code=XDS_REPOSITORY_METADATA)
    expected_hash = sha1_b64(data)
    with _under(issues, profile):
        if attachment.get("size") not in (None, ""):
            try:
                size = int(attachment["size"])
            except (TypeError, ValueError):
                raise refuse(f"{ax}.size must be an integer", rule=rule + "content.attachment.size",
                             french=f"{ax}.size doit être un entier", expression=f"{ax}.size") from None
            if size != len(data):
                raise refuse(f"{ax}.size is {size} but the document has {len(data)} bytes",
                             french=f"{ax}.size vaut {size} mais le document fait {len(data)} octets",
                             rule=rule + "content.attachment.size", expression=f"{ax}.size",
                             details_code=XDS_REPOSITORY_METADATA)
    with _under(issues, profile):
        if attachment.get("hash") not in (None, ""):
            declared_hash = str(attachment["hash"])
            if declared_hash != expected_hash:
                hint = hint_fr = ""
                if declared_hash.lower() == hashlib.sha1(data).hexdigest():  # noqa: S324
                    hint = " (it looks hex-encoded: FHIR base64Binary wants the base64 of the 20 raw bytes)"
                    hint_fr = " (il semble en hexadécimal : le base64Binary FHIR attend le base64 des 20 octets bruts)"
                raise refuse(f"{ax}.hash {declared_hash!r} is not the SHA-1 of the document ({expected_hash!r}, "
                             f"base64 of the 20-byte digest){hint}", french=f"{ax}.hash {declared_hash!r} n'est pas "
                             f"le SHA-1 du document ({expected_hash!r}, base64 de l'empreinte de 20 octets){hint_fr}",
                             rule=rule + "content.attachment.hash", expression=f"{ax}.hash",
                             details_code=XDS_REPOSITORY_METADATA)
    return data, len(data), expected_hash


def _unresolved(url: str, *, expression: str, binaries: dict[str, tuple[str, bytes]]) -> FhirError:
    near = references.same_tail(url, binaries)
    hint = hint_fr = ""
    if near:
        hint = (f"; the Binary entry {near[0]!r} ends with it, but a relative reference resolves against the "
                "root of the DocumentReference entry's own fullUrl, which must then be a RESTful URL on the same "
                "root (FHIR R4 bundle.html#references)")
        hint_fr = (f" ; l'entrée Binary {near[0]!r} se termine ainsi, mais une référence relative se résout par "
                   "rapport à la racine du fullUrl de l'entrée DocumentReference elle-même, qui doit alors être une "
                   "URL RESTful de même racine (FHIR R4 bundle.html#references)")
    return refuse(f"{expression} {url!r} does not resolve to a Binary entry of this Bundle{hint}",
                  french=f"{expression} {url!r} ne désigne aucune entrée Binary de ce Bundle{hint_fr}",
                  rule="MHD:ITI-65.reference-resolution", expression=expression, details_code=XDS_MISSING_DOCUMENT)


def _replaced(resource: dict[str, Any], *, x: str) -> str | None:
    """The logical id of the DocumentReference this one replaces (PDSm4DMP TD2.1), or None."""
    replaces = None
    for i, relation in enumerate(resource.get("relatesTo") or []):
        if relation.get("code") != "replaces":
            raise refuse(f"{x}.relatesTo[{i}].code {relation.get('code')!r}: the DMP supports only 'replaces' "
                         "(RPLC)", french=f"{x}.relatesTo[{i}].code {relation.get('code')!r} : le DMP ne gère que "
                         "« replaces » (RPLC)", rule="PDSm4DMP:TD2.1-relatesTo", expression=f"{x}.relatesTo[{i}].code")
        target = str((relation.get("target") or {}).get("reference") or "")
        m = LOGICAL_REF.match(target)
        if not m or m.group("type") != "DocumentReference":
            raise refuse(f"{x}.relatesTo[{i}].target must reference DocumentReference/<id> of the document "
                         "replaced", french=f"{x}.relatesTo[{i}].target doit désigner le DocumentReference/<id> du "
                         "document remplacé", rule="PDSm4DMP:TD2.1-relatesTo", expression=f"{x}.relatesTo[{i}].target")
        if replaces is not None:
            raise refuse(f"{x}.relatesTo: a document replaces one document at most", rule="PDSm4DMP:TD2.1-relatesTo",
                         french=f"{x}.relatesTo : un document en remplace un seul au plus", expression=f"{x}.relatesTo")
        replaces = m.group("id")
    return replaces


def parse_simplified_publish(body: Any, *, lenient: bool = False, fast: bool) -> DocumentIn:
    """ITI-105: a DocumentReference with the document inline in ``content.attachment.data``, checked against
    the PDSm simplified-publish profile; the server computes size and hash and fills what XDS needs."""
    if not isinstance(body, dict) or body.get("resourceType") != "DocumentReference":
        raise refuse(f"ITI-105 takes a DocumentReference [profile {SIMPLIFIED.id}]", rule="MHD:ITI-105",
                     french=f"l'ITI-105 attend un DocumentReference [profil {SIMPLIFIED.id}]",
                     expression="DocumentReference", details_code=None)
    contents = body.get("content")
    first = contents[0] if isinstance(contents, list) and contents else None
    attachment = first.get("attachment") if isinstance(first, dict) else None
    light = body
    if isinstance(attachment, dict) and "data" in attachment:
        light = {**body, "content": [{**body["content"][0],
                                      "attachment": {k: v for k, v in attachment.items() if k != "data"}},
                                     *body["content"][1:]]}
    fhir_validate("DocumentReference", light, expression="DocumentReference", fast=fast)
    return parse_document_reference(body, index=0, full_url="", binaries={}, lenient=lenient, inline=True)
