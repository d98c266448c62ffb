"""app.ins.call_log: one line per INSi answer (operation, CodeCR, INS and OID returned, credential)."""

from __future__ import annotations

from app.ins import search
from app.ins.call_log import call_log
from app.shared.identifiers import OID_INS_NIR

PERSON = search.PersonRecord(
    nom_naissance="ECETINSI", liste_prenom="PIERRE-ALAIN", sexe="M", date_naissance="2009-07-14",
    lieu_naissance=None, ins_actif=search.InsRecord("1090763220834", "89", "NIR", None, None, None),
    ins_histo=(search.InsRecord("2090763220834", "39", "NIR", None, None, None),),
)


def test_a_found_person_names_its_ins_oid_and_history() -> None:
    line = call_log("rechercherInsAvecTraitsIdentite", search.Outcome("00", "OK", PERSON), lambda r: OID_INS_NIR,
                    "certificate:INSI-AUTO", "SEGURSANDBOX01", "uuid:1")
    assert line == ("rechercherInsAvecTraitsIdentite CodeCR=00 INS=109076322083489 OID=1.2.250.1.213.1.4.8 "
                    "INSHISTO=209076322083439 credential=certificate:INSI-AUTO IDAM=SEGURSANDBOX01 MessageID=uuid:1")


def test_no_person_and_a_bounded_line() -> None:
    line = call_log("search-traits", search.Outcome("01", "Aucune identite trouvee"), lambda r: OID_INS_NIR,
                    "json-facade", None, None)
    assert line == "search-traits CodeCR=01 credential=json-facade IDAM=None MessageID=None"
    assert len(call_log("x", search.Outcome("01", "-"), lambda r: "", "c" * 2000, None, None)) == 1024
