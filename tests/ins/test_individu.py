"""app.ins.individu: INSi's INDIVIDU in JSON, in INSi's element names and order."""

from __future__ import annotations

from app.ins import individu, search
from app.shared.identifiers import OID_INS_NIR

PERSON = search.PersonRecord(
    nom_naissance="ECETINSI", liste_prenom="PIERRE-ALAIN MURIEL FLORIANT", sexe="M", date_naissance="2009-07-14",
    lieu_naissance="63220",
    ins_actif=search.InsRecord("1090763220834", "89", "NIR", "NIR", None, None),
    ins_histo=(search.InsRecord("2090763220834", "39", "NIR", None, "2019-03-01", "2019-02-28"),),
)


def test_individu_in_insi_names() -> None:
    out = individu.person_json(PERSON, lambda r: OID_INS_NIR)
    assert list(out) == ["INSACTIF", "INSHISTO", "TIQ"]
    assert out["INSACTIF"] == {"IdIndividu": {"NumIdentifiant": "1090763220834", "Cle": "89", "TypeMatricule": "NIR"},
                               "OID": OID_INS_NIR}
    assert out["INSHISTO"] == [{"IdIndividu": {"NumIdentifiant": "2090763220834", "Cle": "39"}, "OID": OID_INS_NIR,
                                "DateDeb": "2019-03-01", "DateFin": "2019-02-28"}]
    assert list(out["TIQ"]) == ["NomNaissance", "ListePrenom", "Sexe", "DateNaissance", "LieuNaissance"]
    with_prenom = individu.person_json(PERSON, lambda r: OID_INS_NIR, with_prenom=True)["TIQ"]
    assert list(with_prenom)[:2] == ["NomNaissance", "Prenom"] and with_prenom["Prenom"] == "PIERRE-ALAIN"
