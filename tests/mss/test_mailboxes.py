"""Mailboxes: a professional created after the seed gets a PER mailbox."""

from __future__ import annotations

from tests.mss.conftest import DOCTOR, HOSPITAL_SNI


async def test_professional_created_later_gets_a_mailbox(client, smtp_call):
    import copy
    import json

    from app.psc.rpps import rpps_with_key, subject_name_id

    fixtures = json.loads((await client.get("/sandbox/v1/professionals")).text)
    template = next(p for p in fixtures if p["SubjectNameID"] == HOSPITAL_SNI)
    sni = subject_name_id(rpps_with_key("1000900001"))
    professional = copy.deepcopy(template)
    professional.update({"SubjectNameID": sni, "preferred_username": sni, "given_name": "Élodie",
                         "family_name": "N'Guessan", "sub": f"f:sandbox:{sni}"})
    created = await client.post("/sandbox/v1/professionals", json=professional)
    assert created.status_code == 201, created.text
    address = "elodie.n-guessan@hopital-a.mssante.fr"

    def fn(smtp):
        smtp.login(DOCTOR, "mssante")
        smtp.mail(DOCTOR)
        return smtp.rcpt(address)[0]

    assert await smtp_call(fn) == 250
    bundle = (await client.get("/fhir/v2/Practitioner", params={"mailbox-mss": address},
                               headers={"ESANTE-API-KEY": "sandbox-esante-api-key"})).json()
    assert [i["value"] for e in bundle["entry"] for i in e["resource"]["identifier"]
            if i["system"] == "urn:oid:1.2.250.1.71.4.2.1"] == [sni]  # Annuaire ids are opaque (003-…)
