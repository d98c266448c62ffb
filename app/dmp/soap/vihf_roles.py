"""The VIHF's subject roles: the codes of JDV_J65-SubjectRole-DMP the sandbox knows (pure data).

Source: the value set as ANS's generate-VIHF ships it (``prosanteconnect/generate-VIHF``
``src/main/resources/JDV_J65-SubjectRole-DMP.xml``, dateMaj 20200424), and the ANS "Mapping VIHF pour le DMP"
(``ansforge/IG-hl7v2-volet-transmission-document-cda-r2`` ``input/pagecontent/mapping.md``: a first role from
TRE_G15 / G16 / A00, a second, the specialty, for doctors).
"""

from __future__ import annotations

import re

SYSTEM_G15 = "1.2.250.1.71.1.2.7"  # TRE_G15-ProfessionSante
SYSTEM_G16 = "1.2.250.1.71.1.2.8"  # TRE_G16-ProfessionFormation (students' CPF cards)
SYSTEM_R01 = "1.2.250.1.71.4.2.5"  # TRE_R01-EnsembleSavoirFaire-CISIS
SYSTEM_G05 = "1.2.250.1.71.4.2.6"  # pharmacists' sections of the CNOP table (mapping.md: TRE_G05)
SYSTEM_A00 = "1.2.250.1.213.1.1.4.6"  # TRE_A00-ProducteurDocNonPS (AUTOMATE, SECRETARIAT_MEDICAL, ...)
# Every TRE_G15 profession of JDV_J65-SubjectRole-DMP (generate-VIHF resources, dateMaj 20200424).
G15_PROFESSIONS = {
    "10": "Médecin", "21": "Pharmacien", "26": "Audioprothésiste", "28": "Opticien-Lunetier",
    "31": "Assistant dentaire", "32": "Physicien médical", "35": "Aide-soignant", "36": "Ambulancier",
    "37": "Auxiliaire de puériculture", "38": "Préparateur en pharmacie hospitalière",
    "39": "Préparateur en pharmacie (officine)", "40": "Chirurgien-Dentiste", "50": "Sage-Femme", "60": "Infirmier",
    "69": "Infirmier psychiatrique", "70": "Masseur-Kinésithérapeute", "80": "Pédicure-Podologue",
    "81": "Orthoprothésiste", "82": "Podo-Orthésiste", "83": "Orthopédiste-Orthésiste", "84": "Oculariste",
    "85": "Epithésiste", "86": "Technicien de laboratoire médical", "91": "Orthophoniste", "92": "Orthoptiste",
    "94": "Ergothérapeute", "95": "Diététicien", "96": "Psychomotricien", "98": "Manipulateur ERM",
}
A00_CODES = ("ALIM_AM", "DISPOSITIF", "EXP_PATIENT", "SECRETARIAT_MEDICAL", "AUTOMATE")
# TRE_R01 codes in JDV_J65 are a family prefix and a number: SM26, SCH37, SCD01, PAC00, CEX22, SI01, C07,
# CAPA01, DSM200, ... (generate-VIHF's copy of the value set).
R01_CODE = re.compile(r"(?:SM|SCH|SCD|PAC|CEX|SI|C|CAPA|DSM)\d{2,3}")
PHARMACIST = "21"
G05_SECTIONS = ("A", "B", "C", "D", "DA", "DM", "E", "EA", "EB", "EC", "ED", "EG", "EH", "G", "H", "M")
DOCTOR = "10"  # mapping.md: "2e occurrence uniquement et obligatoirement pour les médecins et pharmaciens"
# (a doctor: an R01 specialty; a pharmacist: a G05 section, or an R01 specialty such as SM03 biologists hold)
