"""Systems, canonicals and extension URLs of the Annuaire Santé FHIR API v2.

Sources (cited by commit): the API documentation ``ansforge/annuaire-sante-fhir-documentation`` @9f3d7d0
(``docs/pages/guide/version-2/…``) and the IG ``ansforge/IG-fhir-annuaire`` @5fbc358 (``input/fsh/…``).
Where the two disagree, the documentation's example answers win: they show what the server sends.
"""

# meta.source and meta.profile as the documentation's example answers show them
# (getting-started/test-api.md, use-case/uc-call-type.md); the IG examples say
# "https://annuaire.esante.gouv.fr" and versioned canonicals (docs/mss.md, Annuaire decisions).
SOURCE = "https://annuaire.sante.fr"
IG = "https://interop.esante.gouv.fr/ig/fhir/annuaire"
PROFILES = {
    "Practitioner": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-practitioner",
                     f"{IG}/StructureDefinition/as-dp-practitioner"],
    "PractitionerRole": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-practitioner-role",
                         f"{IG}/StructureDefinition/as-dp-practitionerrole"],
    "Organization": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-organization",
                     f"{IG}/StructureDefinition/as-dp-organization"],
}

# Identifier systems (IG examples DP/PP16DP-*.fsh, PP19DP-*.fsh) and their types (fr-core v2-0203).
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
RPPS = "https://rpps.esante.gouv.fr"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
FINESS = "https://finess.esante.gouv.fr"
FINESS_ALIASES = frozenset({FINESS, "http://finess.esante.gouv.fr"})  # http form also seen (mss.md §10.7)
RPPS_RANG = "https://rppsrang.esante.gouv.fr"
SIRENE = "https://sirene.fr"
IDENTIFIER_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"

# Organization.type (use-case/uc-bal-mss.md, uc-segur.md; IG extensions/AsOrganizationTypes.fsh)
ORGANIZATION_TYPES_EXT = f"{IG}/StructureDefinition/as-ext-organization-types"
ORGANIZATION_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307"
TRE_R02 = "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"
TRE_R66 = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
PHARMACY_LICENCE_EXT = f"{IG}/StructureDefinition/as-ext-organization-pharmacy-licence"
USE_PERIOD_EXT = "http://hl7.org/fhir/StructureDefinition/organization-period"
INSEE_CODE_EXT = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
TRE_R13 = "https://mos.esante.gouv.fr/NOS/TRE_R13-Commune/FHIR/TRE-R13-Commune"

# PractitionerRole.code (resources/practitioner-role.md §4.4; IG AsPractitionerRoleProfile.fsh)
TRE_R21 = "https://mos.esante.gouv.fr/NOS/TRE_R21-Fonction/FHIR/TRE-R21-Fonction"
TRE_R22 = "https://mos.esante.gouv.fr/NOS/TRE_R22-GenreActivite/FHIR/TRE-R22-GenreActivite"
TRE_R23 = "https://mos.esante.gouv.fr/NOS/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice"
TRE_R06 = "https://mos.esante.gouv.fr/NOS/TRE_R06-SectionTableauCNOP/FHIR/TRE-R06-SectionTableauCNOP"

# Practitioner.qualification (resources/practitioner.md §4.6–4.8; IG PP16DP-Practitioner.fsh)
TRE_G15 = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
TRE_R09 = "https://mos.esante.gouv.fr/NOS/TRE_R09-CategorieProfessionnelle/FHIR/TRE-R09-CategorieProfessionnelle"
TRE_R38 = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
TRE_R04 = "https://mos.esante.gouv.fr/NOS/TRE_R04-TypeSavoirFaire/FHIR/TRE-R04-TypeSavoirFaire"

# Practitioner smart cards (IG extensions/AsSmartCardExtension.fsh); TRE_R87 TypeCarte (unverified system)
SMARTCARD_EXT = f"{IG}/StructureDefinition/as-ext-smartcard"
TRE_R87 = "https://mos.esante.gouv.fr/NOS/TRE_R87-TypeCarte/FHIR/TRE-R87-TypeCarte"

# Data trace (IG extensions/AsDataTraceExtension.fsh, rulesets.fsh: in meta.extension)
DATA_TRACE_EXT = f"{IG}/StructureDefinition/as-ext-data-trace"
# JDV_J83 draws on this table (system not confirmed by the sources at hand: docs/mss.md)
TRE_R25 = "https://mos.esante.gouv.fr/NOS/TRE_R25-AutoriteEnregistrement/FHIR/TRE-R25-AutoriteEnregistrement"

# Mailboxes (IG extensions/ASMailboxMetadataExtension.fsh; use-case/uc-bal-mss.md)
MAILBOX_EXT = f"{IG}/StructureDefinition/as-ext-mailbox-mss-metadata"
EMAIL_TYPE_EXT = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type"
TRE_R256 = "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie"
TRE_R257 = "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL"

# advanced/modifying-search-results.md §5
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "Resource encoded in summary mode"}

FHIR_JSON = "application/fhir+json"
