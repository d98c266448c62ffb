"""A row of ``ins_person`` read as the pure rules' :class:`~app.ins.search.PersonRecord` (searches, control API).

The columns are read as Core columns rather than the ORM entity: the search by traits reads them on its hot
path, and the fast search (:mod:`app.ins.searches`) reads the same columns in the same order from asyncpg rows.
"""

from __future__ import annotations

import json
from typing import Any

from app.ins import search
from app.ins.models import InsPerson

PERSON_COLUMNS = (
    InsPerson.id, InsPerson.nom_naissance, InsPerson.liste_prenom, InsPerson.sexe, InsPerson.date_naissance,
    InsPerson.lieu_naissance, InsPerson.rang_naissance, InsPerson.ins_number, InsPerson.ins_key,
    InsPerson.ins_kind, InsPerson.ins_type, InsPerson.ins_date_deb, InsPerson.ins_date_fin, InsPerson.histo,
    InsPerson.fault,
)
"""What :func:`record` reads, in this order."""


def record(row: Any) -> search.PersonRecord:
    """The person of a row of :data:`PERSON_COLUMNS` (``histo`` as a list, or as JSON text from asyncpg)."""
    (id_, nom, liste, sexe, date, lieu, rang, number, key, kind, typ, deb, fin, histo, fault) = row
    if not isinstance(histo, list):
        histo = () if not histo or histo == "[]" else json.loads(histo)  # most persons have no INSHISTO
    return search.PersonRecord(
        nom_naissance=nom, liste_prenom=liste, sexe=sexe, date_naissance=date, lieu_naissance=lieu,
        ins_actif=search.InsRecord(number, key, kind, typ, deb, fin) if number else None,
        ins_histo=tuple(search.InsRecord(h["number"], h["key"], h["kind"], h.get("type"), h.get("deb"),
                                         h.get("fin")) for h in histo),
        rang_naissance=rang, fault=fault, id=id_,
    )


def histo_json(p: search.PersonRecord) -> list[dict]:
    """The ``histo`` column of a person: its INSHISTO, as :func:`record` reads it back."""
    return [
        {"number": h.number, "key": h.key, "kind": h.kind, "type": h.type_matricule, "deb": h.date_deb,
         "fin": h.date_fin}
        for h in p.ins_histo
    ]
