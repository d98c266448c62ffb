"""ebRIM 3.0 registry objects and the HL7 v2 data types of XDS metadata, read without I/O: the building
blocks of :mod:`.ebrim_in` (ITI-41, ITI-57).

Sources: ebRIM 3.0 (Slot, Classification, ExternalIdentifier, LocalizedString); IHE ITI TF-3 §4.2.3.1.2
(coded attributes: nodeRepresentation, codingScheme slot, Name), §4.2.3.1.4 (author), Table 4.2.3.1.7-2 (DTM,
CX, XCN, XON, XTN), Table 4.2.5-1 (the UUIDs, :mod:`.namespaces`); XDS error codes: ITI TF-3 Table 4.2.4.1-2.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from app.dmp.exceptions import (
    XDS_UNKNOWN_PATIENT,
    DmpError,
    Kind,
    Refusals,
)
from app.dmp.soap import namespaces as ns
from app.dmp.submission import (
    RPPS_SYSTEM,
    Code,
    PatientId,
    storable_problem,
)
from app.shared import valuesets
from app.shared.identifiers import INS_OIDS

RIM = f"{{{ns.NS_RIM}}}"
# XDS codingScheme OIDs the shipped value sets know by their NOS URL only (ITI TF-3 §4.2.3.2.11: the IHE
# formatCode scheme; reference/dmp.md §3, TRE_A11-IheFormatCode).
_SCHEME_URLS = {"1.3.6.1.4.1.19376.1.2.3":
                "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode"}
_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?")
_INS = re.compile(r"[0-9AB]{15}")


def invalid(english: str, french: str, *, element: str, rule: str = "XDS:metadata",
            code: str = "XDSRegistryMetadataError", kind: Kind = Kind.INVALID) -> DmpError:
    """A metadata refusal: ``element`` names the registry object and attribute (``ExtrinsicObject[Doc1]
    .classCode``)."""
    return DmpError(kind, f"{element}: {english}", french=f"{element} : {french}", rule=rule, element=element,
                    xds_code=code)


# --- the registry objects --------------------------------------------------------------------------------

@dataclass
class Classification:
    scheme: str | None  # classificationScheme (a coded attribute), None for a classificationNode
    node: str | None
    code: str  # nodeRepresentation
    slots: dict[str, list[str]]
    name: str | None


@dataclass
class RegistryObject:
    """One ExtrinsicObject, RegistryPackage or Association, with what classifies and identifies it."""

    element: etree._Element
    kind: str  # ExtrinsicObject / RegistryPackage / Association
    id: str
    slots: dict[str, list[str]]
    name: str | None
    description: str | None
    classifications: list[Classification] = field(default_factory=list)
    identifiers: dict[str, str] = field(default_factory=dict)  # identificationScheme -> value

    @property
    def where(self) -> str:
        return f"{self.kind}[{self.id}]"

    def attr(self, name: str) -> str | None:
        return self.element.get(name)

    def slot(self, name: str) -> str | None:
        values = self.slots.get(name) or []
        return values[0] if values else None

    def coded(self, scheme: str) -> list[Classification]:
        return [c for c in self.classifications if c.scheme == scheme]


def _slots(element: etree._Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for slot in element.findall(f"{RIM}Slot"):
        found.setdefault(slot.get("name", ""), []).extend(
            (v.text or "").strip() for v in slot.findall(f"{RIM}ValueList/{RIM}Value"))
    return found


def _localized(element: etree._Element, tag: str) -> str | None:
    string = element.find(f"{RIM}{tag}/{RIM}LocalizedString")
    return string.get("value") if string is not None else None


@dataclass
class RegistryObjects:
    """What a ``lcm:SubmitObjectsRequest``'s ``rim:RegistryObjectList`` holds, by kind, in document order."""

    extrinsics: list[RegistryObject]
    packages: list[RegistryObject]
    associations: list[RegistryObject]
    node_classified: set[str]  # ids classified by the SubmissionSet node (NODE_SUBMISSION_SET)


def read_objects(submit: etree._Element) -> RegistryObjects:
    """The registry objects of a SubmitObjectsRequest; Classifications and ExternalIdentifiers, nested or at
    the top of the list (``classifiedObject`` / ``registryObject``), joined to the object they describe."""
    objects = submit.find(f"{RIM}RegistryObjectList")
    if submit.tag != f"{{{ns.NS_LCM}}}SubmitObjectsRequest" or objects is None:
        raise invalid("a lcm:SubmitObjectsRequest with a rim:RegistryObjectList is required (ebRS 3.0 §5.1)",
                      "un lcm:SubmitObjectsRequest avec une rim:RegistryObjectList est attendu (ebRS 3.0 §5.1)",
                      element="SubmitObjectsRequest", rule="ebRS:SubmitObjectsRequest")
    by_id: dict[str, RegistryObject] = {}
    kinds: dict[str, list[RegistryObject]] = defaultdict(list)
    for element in objects:
        kind = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if kind in ("ExtrinsicObject", "RegistryPackage", "Association"):
            obj = RegistryObject(element, kind, element.get("id", ""), _slots(element), _localized(element, "Name"),
                                 _localized(element, "Description"))
            by_id[obj.id] = obj
            kinds[kind].append(obj)
    nodes: set[str] = set()
    for classification in objects.iter(f"{RIM}Classification"):
        parent = classification.getparent()
        target = classification.get("classifiedObject") or (parent.get("id") if parent is not objects else None)
        if classification.get("classificationNode") == ns.NODE_SUBMISSION_SET and target:
            nodes.add(target)
        if target in by_id:
            by_id[target].classifications.append(Classification(
                classification.get("classificationScheme"), classification.get("classificationNode"),
                classification.get("nodeRepresentation", ""), _slots(classification),
                _localized(classification, "Name")))
    for identifier in objects.iter(f"{RIM}ExternalIdentifier"):
        parent = identifier.getparent()
        target = identifier.get("registryObject") or (parent.get("id") if parent is not objects else None)
        if target in by_id:
            by_id[target].identifiers[identifier.get("identificationScheme", "")] = identifier.get("value", "")
    return RegistryObjects(kinds["ExtrinsicObject"], kinds["RegistryPackage"], kinds["Association"], nodes)


# --- HL7 v2 data types (ITI TF-3 Table 4.2.3.1.7-2) --------------------------------------------------------

def parse_dtm(value: str | None, *, element: str) -> tuple[datetime, str]:
    """DTM ``YYYY[MM[DD[hh[mm[ss]]]]]`` in UTC (ITI TF-3 §4.2.3.1.7-2) -> the instant and its FHIR dateTime,
    keeping the precision given (a date without a time stays a FHIR date)."""
    m = _DTM.fullmatch((value or "").strip())
    if not m or (m.group(2) is None and m.group(3)):
        raise invalid(f"{value!r} is not an XDS DTM (YYYY[MM[DD[hh[mm[ss]]]]], UTC)",
                      f"{value!r} n'est pas une date XDS DTM (YYYY[MM[DD[hh[mm[ss]]]]], UTC)", element=element,
                      rule="XDS:DTM")
    parts = [int(p) if p else None for p in m.groups()]
    year, month, day, hour, minute, second = parts
    try:
        when = datetime(year or 1, month or 1, day or 1, hour or 0, minute or 0, second or 0, tzinfo=UTC)
    except ValueError:
        raise invalid(f"{value!r} is not a date", f"{value!r} n'est pas une date", element=element,
                      rule="XDS:DTM") from None
    if hour is None:
        text = when.strftime("%Y-%m-%d" if day else "%Y-%m" if month else "%Y")
    else:
        text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return when, text


def parse_cx(value: str | None, *, element: str) -> PatientId:
    """A patient CX ``<INS>^^^&<OID>&ISO`` (ITI TF-3 §4.2.3.2.16; the INS OIDs, reference/dmp.md §1.1)."""
    ident, _, rest = (value or "").partition("^^^")
    authority = rest.split("^", 1)[0].split("&")
    oid = authority[1] if len(authority) >= 3 and authority[2] == "ISO" else ""
    if oid not in INS_OIDS or not _INS.fullmatch(ident):
        raise invalid(f"{value!r} is not the patient's INS as a CX <INS>^^^&<OID>&ISO (OID "
                      f"{', '.join(INS_OIDS)})", f"{value!r} n'est pas l'INS du patient au format CX "
                      f"<INS>^^^&<OID>&ISO (OID {', '.join(INS_OIDS)})", element=element, rule="XDS:patientId-INS",
                      code=XDS_UNKNOWN_PATIENT)
    return PatientId(oid=oid, ins=ident)


def _authority(component: str) -> str | None:
    parts = component.split("&")
    return parts[1] if len(parts) >= 2 and parts[1] else None


def xcn_practitioner(value: str, ref_id: str) -> tuple[dict[str, Any], str | None]:
    """An XCN ``id^family^given^^^^^^&<OID>&ISO^…`` as a FHIR Practitioner and the RPPS it carries
    (``8`` + RPPS under 1.2.250.1.71.4.2.1, the national PS identifier)."""
    c = value.split("^") + [""] * 10
    practitioner: dict[str, Any] = {"resourceType": "Practitioner", "id": ref_id}
    rpps = None
    oid = _authority(c[8])
    if c[0]:
        system = f"urn:oid:{oid}" if oid else "urn:ietf:rfc:3986"
        practitioner["identifier"] = [{"system": system, "value": c[0]}]
        if system == RPPS_SYSTEM:
            rpps = c[0][1:] if len(c[0]) == 12 and c[0].startswith("8") else c[0]
    name = {k: v for k, v in (("family", c[1]), ("given", [g for g in (c[2], c[3]) if g])) if v}
    if name:
        practitioner["name"] = [name]
    return practitioner, rpps


def xon_organization(value: str, ref_id: str) -> dict[str, Any]:
    """An XON ``name^^^^^&<OID>&ISO^^^^<id>`` as a FHIR Organization."""
    c = value.split("^") + [""] * 10
    organization: dict[str, Any] = {"resourceType": "Organization", "id": ref_id, "name": c[0]}
    oid = _authority(c[5])
    if c[9] or oid:
        organization["identifier"] = [{"system": f"urn:oid:{oid}" if oid else "urn:ietf:rfc:3986",
                                       "value": c[9] or oid}]
    return organization


def ce_concept(value: str) -> dict[str, Any]:
    """A role or specialty, as CI-SIS writes it ``code^display^OID`` (or a bare string) -> CodeableConcept."""
    c = value.split("^")
    if len(c) >= 3 and c[2]:
        return {"coding": [{"system": f"urn:oid:{c[2].split('&')[0]}", "code": c[0],
                            **({"display": c[1]} if c[1] else {})}]}
    return {"text": value}


def authors(obj: RegistryObject, scheme: str, prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                                  str | None, list[str], list[str]]:
    """The author Classifications (ITI TF-3 §4.2.3.1.4): contained resources, author references, the first
    RPPS, given and family names."""
    contained: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    rpps: str | None = None
    given: list[str] = []
    family: list[str] = []
    for i, author in enumerate(obj.coded(scheme)):
        slots = author.slots
        person = (slots.get("authorPerson") or [""])[0]
        role: dict[str, Any] = {"resourceType": "PractitionerRole", "id": f"{prefix}author{i}"}
        if person:
            practitioner, found = xcn_practitioner(person, f"{prefix}author{i}-person")
            contained.append(practitioner)
            role["practitioner"] = {"reference": f"#{practitioner['id']}"}
            rpps = rpps or found
            for name in practitioner.get("name") or []:
                family += [name["family"]] if name.get("family") else []
                given += name.get("given") or []
        institutions = slots.get("authorInstitution") or []
        if institutions:
            organization = xon_organization(institutions[0], f"{prefix}author{i}-org")
            contained.append(organization)
            role["organization"] = {"reference": f"#{organization['id']}"}
        if slots.get("authorRole"):
            role["code"] = [ce_concept(v) for v in slots["authorRole"]]
        if slots.get("authorSpecialty"):
            role["specialty"] = [ce_concept(v) for v in slots["authorSpecialty"]]
        telecom = [t.split("^")[3] for t in slots.get("authorTelecommunication") or [] if len(t.split("^")) > 3]
        if telecom:
            role["telecom"] = [{"system": "email", "value": t} for t in telecom if t]
        contained.append(role)
        refs.append({"reference": f"#{role['id']}"})
    return contained, refs, rpps, given, family


def coded(obj: RegistryObject, scheme: str, label: str, *, refusals: Refusals, required: bool = True,
          many: bool = False) -> list[Code]:
    """A coded attribute (ITI TF-3 §4.2.3.1.2): ``nodeRepresentation`` the code, the ``codingScheme`` slot its
    system (an OID, given as ``urn:oid:`` or the NOS URL the value sets know it by), ``Name`` its display."""
    found = obj.coded(scheme)
    with refusals.check():
        if required and not found:
            raise invalid(f"{label} is required (a Classification of scheme {scheme})",
                          f"{label} est obligatoire (une Classification de schéma {scheme})",
                          element=f"{obj.where}.{label}")
        if not many and len(found) > 1:
            raise invalid(f"{label} is given {len(found)} times; it takes one",
                          f"{label} figure {len(found)} fois ; un seul est admis", element=f"{obj.where}.{label}")
    codes = []
    for c in found:
        scheme_value = (c.slots.get("codingScheme") or [""])[0]
        with refusals.check():
            if not c.code or not scheme_value:
                raise invalid(f"{label} needs a nodeRepresentation and a codingScheme slot",
                              f"{label} doit porter un nodeRepresentation et un slot codingScheme",
                              element=f"{obj.where}.{label}")
            codes.append(Code(_system(scheme_value), c.code, c.name))
    return codes


def _system(coding_scheme: str) -> str:
    """The FHIR system of an XDS codingScheme: the NOS URL the value sets know for it, else ``urn:oid:``."""
    if coding_scheme.startswith(("http:", "https:", "urn:")):
        return coding_scheme
    if coding_scheme in _SCHEME_URLS:
        return _SCHEME_URLS[coding_scheme]
    for element in valuesets.BINDINGS:
        canonical = valuesets.binding(element).canonical_system(f"urn:oid:{coding_scheme}")
        if canonical is not None:
            return canonical
    return f"urn:oid:{coding_scheme}"


def fits(value: str | None, limit: int | None, *, element: str) -> None:
    """What the store cannot hold (:func:`app.dmp.submission.storable_problem`), in XDS words."""
    problem = storable_problem(value, limit)
    if problem is not None:
        raise invalid(problem[1], problem[2], element=element, rule="DMP:element-length")
