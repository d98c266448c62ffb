"""The ``INDIVIDU`` of an INSi answer as JSON, in INSi's own element names (``INSi_RESULTAT_INS.xsd``:
``INSACTIF``, ``INSHISTO*``, ``TIQ``). Pure. What the JSON face answers and the control API lists; the SOAP face
writes the same element as XML (:func:`app.ins.soap.answers.resultat_xml`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.db import utcnow
from app.ins import fhir, nir, search


def person_json(p: search.PersonRecord, oid_of: Callable[[search.InsRecord], str], *,
                with_prenom: bool = False) -> dict:
    """The ``INDIVIDU`` of ``p``; ``oid_of(InsRecord) -> str`` applies the OID policy."""

    def ins(r: search.InsRecord) -> dict:
        d: dict = {"IdIndividu": {"NumIdentifiant": r.number, "Cle": r.key}, "OID": oid_of(r)}
        if r.type_matricule:
            d["IdIndividu"]["TypeMatricule"] = r.type_matricule
        if r.date_deb:
            d["DateDeb"] = r.date_deb
        if r.date_fin:
            d["DateFin"] = r.date_fin
        return d

    tiq: dict = {"NomNaissance": p.nom_naissance}
    if with_prenom:
        tiq["Prenom"] = p.first_prenom
    tiq.update({"ListePrenom": p.liste_prenom, "Sexe": p.sexe, "DateNaissance": p.date_naissance})
    if p.lieu_naissance:
        tiq["LieuNaissance"] = p.lieu_naissance
    out: dict = {}
    if p.ins_actif:
        out["INSACTIF"] = ins(p.ins_actif)
    out["INSHISTO"] = [ins(h) for h in p.ins_histo]
    out["TIQ"] = tiq
    return out


def answer_body(outcome: search.Outcome, settings: Any, method: str) -> dict[str, Any]:
    """The JSON facade's answer to a search (``CR``, and for ``00`` the ``INDIVIDU`` and its FR Core ``Patient``),
    under the settings' OID policy; what ``/insi/v1`` answers and the web console shows. A simulated technical
    fault (``outcome.fault``) is the caller's to answer."""
    body: dict[str, Any] = {"CR": {"CodeCR": outcome.code, "LibelleCR": outcome.label}}
    if outcome.person is not None:
        policy = settings.ins_oid_policy

        def oid_of(r: search.InsRecord) -> str:
            return nir.oid_for(r.kind, policy)

        body["INDIVIDU"] = person_json(outcome.person, oid_of, with_prenom=settings.ins_tiq_prenom)
        body["patient"] = fhir.patient(outcome.person, oid_of, status="RECUP", method=method,
                                       status_system=settings.ins_status_system,
                                       date_insi=utcnow().date().isoformat())
    return body
