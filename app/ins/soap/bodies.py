"""Reading the body of an INSi request: ``RECSANSVITALE`` (traits) and ``RECVITALE`` (Carte Vitale), each an
``xsd:sequence`` whose order the XSDs fix (``INSi_RECSANS_INS.xsd``, ``INSi_RECVITALE_INS.xsd``). Pure: the
values are checked afterwards by :mod:`app.ins.traits`."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from app.ins.soap.faults import fault_request
from app.ins.soap.namespaces import NS_RECSANS, NS_RECVIT


@dataclass
class TraitsBody:
    NomNaissance: str | None
    Prenom: list[str]
    Sexe: str | None
    DateNaissance: str | None
    LieuNaissance: str | None


def _sequence_reader(element: str, ns: str, order: list[str], repeatable: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    """A reader of an ``xsd:sequence`` of optional elements: each child must be one of ``order`` in namespace
    ``ns``, in that order, at most once unless ``repeatable``. Comments and processing instructions are not
    elements and are skipped. Anything else is a ``siram_10``/``sandbox_body`` fault whose rule is
    ``INSi:<element>`` (``INSi:<element>-order`` for the order). The one mechanism of the trait search
    (``RECSANSVITALE``), the Carte Vitale search (``RECVITALE``) and its ``Matricule`` elements."""
    tags = {f"{{{ns}}}{name}": (name, position) for position, name in enumerate(order)}  # tag -> (name, rank)

    def read(payload: etree._Element, message_id: str | None = None) -> dict[str, list[etree._Element]]:
        found: dict[str, list[etree._Element]] = {}
        last, last_rank = "", -1
        for child in payload:
            known = tags.get(child.tag)
            if known is None:
                if not isinstance(child.tag, str):  # a comment or a processing instruction
                    continue
                raise fault_request("sandbox_body", f"élément inattendu dans {element} : "
                                    f"{etree.QName(child).localname}", message_id, rule=f"INSi:{element}")
            local, position = known
            if position < last_rank:
                raise fault_request("sandbox_body", f"ordre des éléments de {element} : {local} après {last}",
                                    message_id, rule=f"INSi:{element}-order")
            same = found.get(local)
            if same is None:
                found[local] = [child]
            elif local in repeatable:
                same.append(child)
            else:
                raise fault_request("sandbox_body", f"{local} répété", message_id, rule=f"INSi:{element}")
            last, last_rank = local, position
        return found

    return read


def _stripped(el: etree._Element) -> str:
    return (el.text or "").strip()


# INSi_RECSANS_INS.xsd, type TraitsDIdentite
_read_recsans = _sequence_reader("RECSANSVITALE", NS_RECSANS,
                                 ["NomNaissance", "Prenom", "Sexe", "DateNaissance", "LieuNaissance"],
                                 frozenset({"Prenom"}))


def parse_traits(payload: etree._Element, message_id: str | None = None) -> TraitsBody:
    """``RECSANSVITALE`` (type ``TraitsDIdentite``): the XSD fixes the element order."""
    found = _read_recsans(payload, message_id)
    get = found.get

    def one(k: str) -> str | None:
        els = get(k)
        return (els[0].text or "").strip() if els else None

    return TraitsBody(one("NomNaissance"), [(el.text or "").strip() for el in get("Prenom", ())], one("Sexe"),
                      one("DateNaissance"), one("LieuNaissance"))


@dataclass
class VitaleBody:
    MatriculeIndividu: str | None
    MatriculeOD: str | None
    NomNaissance: str | None
    DateNaissance: str | None
    RangNaissance: str | None
    MatriculeIndividuCle: str | None = None
    MatriculeODCle: str | None = None


# INSi_RECVITALE_INS.xsd, types Beneficiaire and Matricule
_read_recvitale = _sequence_reader("RECVITALE", NS_RECVIT,
                                   ["MatriculeIndividu", "MatriculeOD", "NomNaissance", "DateNaissance",
                                    "RangNaissance"])
_read_matricules = {name: _sequence_reader(name, NS_RECVIT, ["NumIdentifiant", "Cle", "TypeMatricule"])
                    for name in ("MatriculeIndividu", "MatriculeOD")}


def parse_vitale(payload: etree._Element, message_id: str | None = None) -> VitaleBody:
    """``RECVITALE`` (type ``Beneficiaire``): its order is fixed by the XSD, and so is the order of each
    ``Matricule`` (``NumIdentifiant``, ``Cle``, ``TypeMatricule``), checked as :func:`parse_traits` does."""
    found = _read_recvitale(payload, message_id)

    def first(within: dict[str, list[etree._Element]], k: str) -> str | None:
        els = within.get(k)
        return _stripped(els[0]) if els else None

    def one(k: str) -> str | None:
        return first(found, k)

    def mat(name: str) -> tuple[str | None, str | None]:
        els = found.get(name)
        if not els:
            return None, None
        parts = _read_matricules[name](els[0], message_id)
        return first(parts, "NumIdentifiant"), first(parts, "Cle")

    individu, individu_key = mat("MatriculeIndividu")
    od, od_key = mat("MatriculeOD")
    return VitaleBody(
        MatriculeIndividu=individu, MatriculeOD=od, NomNaissance=one("NomNaissance"),
        DateNaissance=one("DateNaissance"), RangNaissance=one("RangNaissance"),
        MatriculeIndividuCle=individu_key, MatriculeODCle=od_key,
    )
