"""Resources in the shape of the Annuaire Santé FHIR API v2 answers, valid FHIR R4 (fhir.resources R4B).

Compared with the documentation's example answers (ansforge/annuaire-sante-fhir-documentation @9f3d7d0:
docs/pages/guide/version-2/getting-started/test-api.md, use-case/uc-call-type.md, use-case/uc-segur.md,
use-case/uc-bal-mss.md) and the IG's as-dp examples (ansforge/IG-fhir-annuaire @5fbc358
input/fsh/examples/DP/PP16DP-*.fsh, PP19DP-*.fsh). The test data are the sandbox's own fixtures.
"""

from __future__ import annotations

import re

import pytest
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole

from tests.mss.annuaire.test_routes import CABINET, DOCTOR_SNI, HOSPITAL, PHARMACIST_SNI, names, search

IG = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition"
CORE = "https://hl7.fr/ig/fhir/core/StructureDefinition"
V2_0203 = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
MODELS = {"Practitioner": Practitioner, "PractitionerRole": PractitionerRole, "Organization": Organization}
ID_FORMS = {"Practitioner": r"003-\d+-\d+", "PractitionerRole": r"005-\d+-\d+", "Organization": r"001-01-\d+"}
PROFILES = {"Practitioner": [f"{CORE}/fr-core-practitioner", f"{IG}/as-dp-practitioner"],
            "PractitionerRole": [f"{CORE}/fr-core-practitioner-role", f"{IG}/as-dp-practitionerrole"],
            "Organization": [f"{CORE}/fr-core-organization", f"{IG}/as-dp-organization"]}


def types_of(resource):
    return {(i["type"]["coding"][0]["code"], i["system"]) for i in resource["identifier"] if "type" in i}


@pytest.mark.parametrize("kind", sorted(MODELS))
async def test_every_resource_is_valid_r4_in_the_documented_meta_and_id_form(client, kind):
    """meta as test-api.md / uc-call-type.md show it: versionId, lastUpdated, source
    https://annuaire.sante.fr, profile [fr-core canonical, as-dp canonical]; ids 003-…/005-…/001-01-…"""
    bundle = await search(client, kind, _count=1000)
    assert bundle["entry"]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        MODELS[kind].model_validate(resource)
        assert re.fullmatch(ID_FORMS[kind], resource["id"]), resource["id"]
        assert entry["fullUrl"].endswith(f"/fhir/v2/{kind}/{resource['id']}")
        meta = resource["meta"]
        assert meta["versionId"] == "1" and meta["source"] == "https://annuaire.sante.fr"
        assert meta["profile"] == PROFILES[kind]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", meta["lastUpdated"])
        trace = next(e for e in meta["extension"] if e["url"] == f"{IG}/as-ext-data-trace")
        assert {e["url"] for e in trace["extension"]} == {"autorite-enregistrement", "systeme-information"}
        assert resource["language"] == "fr" and resource["active"] is True


async def test_practitioner_identifiers_name_and_qualifications(client):
    """test-api.md: identifier use official, type fr-core-cs-v2-0203 IDNPS, system urn:oid:1.2.250.1.71.4.2.1;
    IG PP16DP-Practitioner.fsh: RPPS on https://rpps.esante.gouv.fr, name usual with prefix, qualification
    profession TRE_G15 + category TRE_R09; practitioner.md §3: the name carries prefix and suffix."""
    resource = (await search(client, "Practitioner", identifier=DOCTOR_SNI))["entry"][0]["resource"]
    assert resource["identifier"][0] == {
        "use": "official", "type": {"coding": [{"system": V2_0203, "code": "IDNPS"}]},
        "system": "urn:oid:1.2.250.1.71.4.2.1", "value": DOCTOR_SNI}
    assert types_of(resource) == {("IDNPS", "urn:oid:1.2.250.1.71.4.2.1"), ("RPPS", "https://rpps.esante.gouv.fr")}
    assert resource["name"] == [{"use": "usual", "family": "FONTAINE", "given": ["Claire"], "prefix": ["MME"],
                                 "suffix": ["DR"]}]
    codings = [cd for q in resource["qualification"] for cd in q["code"]["coding"]]
    assert {"system": "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante",
            "code": "10"} in codings
    assert {"system": "https://mos.esante.gouv.fr/NOS/TRE_R09-CategorieProfessionnelle/FHIR/"
            "TRE-R09-CategorieProfessionnelle", "code": "C"} in codings
    card = next(e for e in resource["extension"] if e["url"] == f"{IG}/as-ext-smartcard")
    assert {e["url"] for e in card["extension"]} == {"type", "number"}


async def test_organization_identifiers_and_types(client):
    """uc-segur.md: IDNST (urn:oid:1.2.250.1.71.4.2.2) and FINEG (https://finess.esante.gouv.fr) typed with
    fr-core-cs-v2-0203; uc-bal-mss.md: type entries with the as-ext-organization-types extension
    (organizationType GEOGRAPHICAL-ENTITY on fr-core-cs-v2-3307, secteurActiviteRASS on TRE_R02), the
    TRE_R66 category without it; IG PP16DP-Organization.fsh: the legal entity FINEJ, LEGAL-ENTITY."""
    site = (await search(client, "Organization", identifier="330781022"))["entry"][0]["resource"]
    assert types_of(site) == {("IDNST", "urn:oid:1.2.250.1.71.4.2.2"), ("FINEG", "https://finess.esante.gouv.fr"),
                              ("RPPSRG", "https://rppsrang.esante.gouv.fr")}
    assert site["type"][0] == {
        "extension": [{"url": f"{IG}/as-ext-organization-types", "valueCode": "organizationType"}],
        "coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307",
                    "code": "GEOGRAPHICAL-ENTITY"}]}
    assert site["type"][1]["extension"][0]["valueCode"] == "secteurActiviteRASS"
    assert site["type"][1]["coding"][0]["code"] == "SA01"
    assert site["type"][2] == {"coding": [{
        "system": "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement",
        "code": "101"}]}
    assert site["address"][0]["city"] == "BORDEAUX" and site["address"][0]["postalCode"] == "33000"
    legal = (await search(client, "Organization", identifier="330781014"))["entry"][0]["resource"]
    assert types_of(legal) == {("IDNST", "urn:oid:1.2.250.1.71.4.2.2"), ("FINEJ", "https://finess.esante.gouv.fr")}
    assert legal["type"][0]["coding"][0]["code"] == "LEGAL-ENTITY"
    assert site["partOf"] == {"reference": f"Organization/{legal['id']}"}
    cabinet = (await search(client, "Organization", identifier=CABINET))["entry"][0]["resource"]
    assert ("SIRET", "https://sirene.fr") in types_of(cabinet)


async def test_practitioner_role_codes(client):
    """IG PP16DP-PractitionerRole.fsh: identifier on https://rpps.esante.gouv.fr, code genre d'activité
    (TRE_R22), mode d'exercice (TRE_R23), fonction (TRE_R21); practitioner-role.md §4.4 adds the CNOP
    section (TRE_R06). No profession in v2 (nouveautes.md: moved to Practitioner)."""
    directory = await names(client)
    roles = (await search(client, "PractitionerRole", _count=1000))["entry"]
    role = next(e["resource"] for e in roles
                if directory[e["resource"]["practitioner"]["reference"].split("/")[1]] == PHARMACIST_SNI)
    assert role["identifier"][0]["system"] == "https://rpps.esante.gouv.fr"
    assert [(cc["coding"][0]["system"].rsplit("/", 1)[1], cc["coding"][0]["code"]) for cc in role["code"]] == [
        ("TRE-R22-GenreActivite", "GENR01"), ("TRE-R23-ModeExercice", "L"), ("TRE-R21-Fonction", "FON-01"),
        ("TRE-R06-SectionTableauCNOP", "A")]
    assert all("TRE-G15" not in cd["system"]
               for e in roles for cc in e["resource"].get("code", []) for cd in cc["coding"])
    hospital = [e["resource"] for e in roles
                if directory[e["resource"]["organization"]["reference"].split("/")[1]] == HOSPITAL]
    assert len(hospital) == 2
