"""The ``INDIVIDU`` of an INSi answer as JSON, in INSi's own element names (``INSi_RESULTAT_INS.xsd``:
``INSACTIF``, ``INSHISTO*``, ``TIQ``). Pure. What the JSON face answers and the control API lists; the SOAP face
writes the same element as XML (:func:`app.ins.soap.answers.resultat_xml`)."""

from __future__ import annotations

from collections.abc import Callable

from app.ins import search


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
