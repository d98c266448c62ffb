"""PSC's userinfo document: its shape (psc.md §6: every known field present, ``""`` when empty), the
fields derived when absent, and the checks of a document submitted through the control API. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.psc.rpps import rpps_from_subject_name_id

# Keycloak's federated-identity subject is "f:<identity provider UUID>:<national id>" (psc.md §6, §8).
FEDERATION_PROVIDER = "550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd"

_EMPTY_ACTIVITY_FIELDS = (
    "codeModeExercice",
    "codeSecteurDactivite",
    "codeSectionPharmacien",
    "codeRole",
    "codeGenreActivite",
    "numeroSiretSite",
    "numeroSirenSite",
    "numeroFinessSite",
    "numeroFinessetablissementJuridique",
    "identifiantTechniqueDeLaStructure",
    "raisonSocialeSite",
    "enseigneCommercialeSite",
    "complementDestinataire",
    "complementPointGeographique",
    "numeroVoie",
    "indiceRepetitionVoie",
    "codeTypeDeVoie",
    "libelleVoie",
    "mentionDistribution",
    "bureauCedex",
    "codePostal",
    "codeCommune",
    "codePays",
    "telephone",
    "telephone2",
    "telecopie",
    "adresseEMail",
    "codeDepartement",
    "ancienIdentifiantDeLaStructure",
    "autoriteDenregistrement",
)
_EMPTY_EXERCICE_FIELDS = (
    "codeProfession",
    "codeCategorieProfessionnelle",
    "codeCiviliteDexercice",
    "nomDexercice",
    "prenomDexercice",
    "codeTypeSavoirFaire",
    "codeSavoirFaire",
)


def normalise_userinfo(data: Mapping[str, Any]) -> dict[str, Any]:
    """Complete a userinfo document the way PSC shapes it: every known field present, empty as ``""``
    (psc.md §6), ``sub``/``preferred_username``/``SubjectRole`` derived when absent."""
    doc = dict(data)
    sni = str(doc["SubjectNameID"])
    doc.setdefault("sub", f"f:{FEDERATION_PROVIDER}:{sni}")
    doc.setdefault("preferred_username", sni)
    exercices = []
    for exercice in doc.get("SubjectRefPro", {}).get("exercices", []) or []:
        item = {name: exercice.get(name, "") for name in _EMPTY_EXERCICE_FIELDS}
        item["activities"] = [
            {**{name: "" for name in _EMPTY_ACTIVITY_FIELDS}, **act} for act in exercice.get("activities", []) or []
        ]
        exercices.append({**exercice, **item})
    doc["SubjectRefPro"] = {"exercices": exercices}
    first_ex = exercices[0] if exercices else {}
    first_act = first_ex.get("activities", [{}])[0] if first_ex.get("activities") else {}
    if "SubjectRole" not in doc:
        doc["SubjectRole"] = [f"{e['codeProfession']}^1.2.250.1.213.1.1.5.5" for e in exercices if e["codeProfession"]]
    defaults = {
        "codeCivilite": "",
        "SubjectOrganization": first_act.get("raisonSocialeSite", ""),
        "SubjectOrganizationID": first_act.get("identifiantTechniqueDeLaStructure", ""),
        "Secteur_Activite": (
            f"{first_act['codeSecteurDactivite']}^1.2.250.1.71.4.2.4" if first_act.get("codeSecteurDactivite") else ""
        ),
        "codeGenreActivite": first_act.get("codeGenreActivite", ""),
        "Palier_Authentification": "APPPRIP3^1.2.250.1.213.1.5.1.1.1",
        "PSI_Locale": "1.2.250.1.213.1.3.1.1",
        "Acces_Regulation_Medicale": "FAUX",
        "Mode_Acces_Raison": "",
        "UITVersion": "1.0",
    }
    for name, value in defaults.items():
        doc.setdefault(name, value)
    # Real userinfo (prosanteconnect/generate-VIHF VihfBuilderTest.java @004a7ff, RPPS holder): otherIds
    # carries the 12-character national id itself ("8" + RPPS, the same value as SubjectNameID), not the
    # bare RPPS; email_verified is a JSON boolean, false, with no email claim (docs/psc.md, "Userinfo").
    doc.setdefault("email_verified", False)
    if "otherIds" not in doc:
        doc["otherIds"] = [{"identifiant": sni, "origine": national_id_origin(sni), "qualite": 1}]
    return doc


_ADELI_NATIONAL_ID = re.compile(r"0[0-9]{9}")
"""IDNPS of an ADELI holder: ``0`` + the 9-digit ADELI number (mss.md, Annuaire identifier systems)."""


def national_id_origin(subject_name_id: str) -> str:
    """``otherIds[].origine`` of a national id: RPPS (``8`` + RPPS), ADELI (``0`` + ADELI), else EDIT
    (BAS test identities ``ANS…``, ad2ien/prosante-connect-synapse-module tests/test_mapping.py)."""
    if rpps_from_subject_name_id(subject_name_id):
        return "RPPS"
    if _ADELI_NATIONAL_ID.fullmatch(subject_name_id):
        return "ADELI"
    return "EDIT"


def _other_ids_problem(value: Any) -> str | None:
    """otherIds must be a list of {identifiant: str, origine: str, qualite: int} (the samples' shape)."""
    if not isinstance(value, list):
        return "otherIds must be a list"
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            return f"otherIds[{i}] must be an object"
        for name, kind in (("identifiant", str), ("origine", str)):
            if not isinstance(item.get(name), kind):
                return f"otherIds[{i}].{name} must be a string"
        if "qualite" in item and (not isinstance(item["qualite"], int) or isinstance(item["qualite"], bool)):
            return f"otherIds[{i}].qualite must be an integer"
    return None


def shape_problem(data: Mapping[str, Any]) -> str | None:
    """Why ``data`` is not a userinfo document PSC could send, or None (psc.md §6: strings, "" when empty)."""
    ref = data.get("SubjectRefPro", {"exercices": []})
    if not isinstance(ref, dict) or not isinstance(ref.get("exercices", []), list):
        return "SubjectRefPro must be an object with an exercices list"
    for i, exercice in enumerate(ref.get("exercices", [])):
        if not isinstance(exercice, dict):
            return f"SubjectRefPro.exercices[{i}] must be an object"
        activities = exercice.get("activities", [])
        if not isinstance(activities, list) or not all(isinstance(a, dict) for a in activities):
            return f"SubjectRefPro.exercices[{i}].activities must be a list of objects"
        for name, value in exercice.items():
            if name != "activities" and not isinstance(value, str):
                return f"SubjectRefPro.exercices[{i}].{name} must be a string"
        for j, activity in enumerate(activities):
            for name, value in activity.items():
                if not isinstance(value, str):
                    return f"SubjectRefPro.exercices[{i}].activities[{j}].{name} must be a string"
    if "SubjectRole" in data and not isinstance(data["SubjectRole"], list):
        return "SubjectRole must be a list"
    if "otherIds" in data and (problem := _other_ids_problem(data["otherIds"])) is not None:
        return problem
    if "email_verified" in data and not isinstance(data["email_verified"], bool):
        return "email_verified must be a boolean (true or false)"
    if "sub" in data and not isinstance(data["sub"], str):
        return "sub must be a string"
    return None


def profession_code(userinfo: Mapping[str, Any]) -> str:
    for exercice in userinfo.get("SubjectRefPro", {}).get("exercices", []):
        if exercice.get("codeProfession"):
            return str(exercice["codeProfession"])
    role = (userinfo.get("SubjectRole") or [""])[0]
    return str(role).split("^", 1)[0]
