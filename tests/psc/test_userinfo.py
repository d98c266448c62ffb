"""PSC's userinfo shape (app/psc/userinfo.py), as the endpoints and tokens carry it."""

from __future__ import annotations

import base64
import json

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.psc.helpers import GP, OIDC, REDIRECT_URI, access_token_for, token_response_for

# Top-level claims of the generate-VIHF sample and the JSON type of each (str, list, dict, bool).
SAMPLE_SHAPE: dict[str, type] = {
    "Secteur_Activite": str,
    "sub": str,
    "email_verified": bool,
    "SubjectOrganization": str,
    "Mode_Acces_Raison": str,
    "preferred_username": str,
    "given_name": str,
    "Acces_Regulation_Medicale": str,
    "UITVersion": str,
    "Palier_Authentification": str,
    "SubjectRefPro": dict,
    "SubjectOrganizationID": str,
    "SubjectRole": list,
    "PSI_Locale": str,
    "otherIds": list,
    "SubjectNameID": str,
    "family_name": str,
}


def _assert_sample_shape(info: dict, sni: str) -> None:
    for name, kind in SAMPLE_SHAPE.items():
        assert isinstance(info.get(name), kind), (name, info.get(name))
    assert info["SubjectNameID"] == sni and info["preferred_username"] == sni
    assert info["otherIds"] == [{"identifiant": sni, "origine": "RPPS", "qualite": 1}]
    assert info["email_verified"] is False and "email" not in info


async def test_json_userinfo_has_the_sample_shape(client) -> None:  # type: ignore[no-untyped-def]
    access = await access_token_for(client, GP)
    response = await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    _assert_sample_shape(response.json(), GP)
    # the store path (no cached professional) answers the same document as the memory path
    again = await client.post(OIDC + "/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert again.json() == response.json()


async def test_signed_jwt_userinfo_and_me_carry_the_same_ids(client) -> None:  # type: ignore[no-untyped-def]
    made = await client.post(
        "/sandbox/v1/clients",
        json={
            "client_id": "jwt-userinfo-shape",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [REDIRECT_URI],
            "userinfo_signed_response_alg": "RS256",
        },
    )
    assert made.status_code == 201, made.text
    access = await access_token_for(client, GP, client_id="jwt-userinfo-shape")
    response = await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert response.headers["content-type"].startswith("application/jwt")
    keys = KeySet.import_key_set((await client.get(OIDC + "/certs")).json())
    claims = jwt.decode(response.text, keys, algorithms=["RS256"]).claims
    _assert_sample_shape(claims, GP)
    me = (await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {access}"})).json()
    _assert_sample_shape(me["userinfo"], GP)
    assert me["subject_name_id"] == GP and me["rpps"] == GP[1:]


async def test_id_token_carries_email_verified_and_the_national_id(client) -> None:  # type: ignore[no-untyped-def]
    """Keycloak's ``email`` scope mapper writes ``email_verified`` to the id_token as to userinfo."""
    answer = await token_response_for(client, GP)
    payload = answer["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["preferred_username"] == GP and claims["email_verified"] is False


async def test_created_professionals_get_their_national_id_in_other_ids(client) -> None:  # type: ignore[no-untyped-def]
    """RPPS holder: ``8`` + RPPS; ADELI holder: ``0`` + ADELI (IDNPS, mss.md §Annuaire); EDIT: ``ANS…``."""
    base = {"given_name": "Alice", "family_name": "Durand", "SubjectRefPro": {"exercices": [{"codeProfession": "60"}]}}
    cases = {"810001000990": "RPPS", "0751234567": "ADELI", "ANS20260101120000": "EDIT"}
    for sni, origin in cases.items():
        made = await client.post("/sandbox/v1/professionals", json={**base, "SubjectNameID": sni})
        assert made.status_code == 201, made.text
        assert made.json()["otherIds"] == [{"identifiant": sni, "origine": origin, "qualite": 1}]
        assert made.json()["email_verified"] is False
        access = await access_token_for(client, sni)
        info = (await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {access}"})).json()
        assert info["otherIds"][0]["identifiant"] == sni and info["preferred_username"] == sni


async def test_professional_with_ill_typed_email_verified_or_other_ids_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    base = {"SubjectNameID": "810001000990", "given_name": "Alice", "family_name": "Durand"}
    bad = [
        {"email_verified": "false"},
        {"otherIds": [{"identifiant": 810001000990, "origine": "RPPS", "qualite": 1}]},
        {"otherIds": [{"identifiant": "810001000990", "origine": "RPPS", "qualite": "1"}]},
        {"otherIds": ["810001000990"]},
    ]
    for extra in bad:
        response = await client.post("/sandbox/v1/professionals", json={**base, **extra})
        assert response.status_code == 422, (extra, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    kept = await client.post("/sandbox/v1/professionals", json={**base, "email_verified": True})
    assert kept.status_code == 201 and kept.json()["email_verified"] is True
