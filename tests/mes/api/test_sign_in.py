"""Signing in to the patient API over HTTP: one-time codes (wrong, expired, 3 tries, unknown INS, used), and the
access token's checks (signature, algorithm, audience, issuer, expiry, revocation at sign-out)."""

from __future__ import annotations

import base64
import json
import time

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey
from sqlalchemy import update

from app.mes.models import MesChallenge
from app.mes.signin import GRANT_TYPE
from tests.mes.helpers import LEA, THOMAS, ZOE, auth, exchange, start, token_for


async def test_sign_in_with_the_code_gives_a_token_for_me(client) -> None:
    token = await token_for(client, ZOE)
    me = await client.get("/mes/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["person"]["ins"] == ZOE
    assert me.json()["represented"] == []
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] == "mes" and claims["sub"] == ZOE and claims["exp"] > time.time()


async def test_a_representative_sees_the_minor_they_represent(client) -> None:
    me = await client.get("/mes/api/v1/me", headers=await auth(client, THOMAS))
    assert [p["ins"] for p in me.json()["represented"]] == [LEA]
    assert me.json()["represented"][0]["minor"] is True


async def test_unknown_ins_is_refused_clearly(client) -> None:
    response = await client.post("/mes/api/v1/sign-in", json={"ins": "199999999999999"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == "MES:unknown-ins"


async def test_wrong_code_counts_and_the_third_ends_the_challenge(client) -> None:
    challenge, code = await start(client, ZOE)
    wrong = "000000" if code != "000000" else "111111"
    first = await exchange(client, challenge, wrong)
    assert first.status_code == 400 and first.json()["error"] == "invalid_grant"
    assert "2" in first.json()["error_description"]
    await exchange(client, challenge, wrong)
    third = await exchange(client, challenge, wrong)
    assert third.status_code == 400 and "no tries left" in third.json()["error_description"]
    # the right code no longer works: the challenge is spent
    late = await exchange(client, challenge, code)
    assert late.status_code == 400 and "too many" in late.json()["error_description"]


async def test_expired_code_is_refused(client, session) -> None:
    challenge, code = await start(client, ZOE)
    await session.execute(update(MesChallenge).where(MesChallenge.id == challenge)
                          .values(expires_at=MesChallenge.created_at))
    await session.commit()
    response = await exchange(client, challenge, code)
    assert response.status_code == 400 and "expired" in response.json()["error_description"]


async def test_a_code_signs_in_once(client) -> None:
    challenge, code = await start(client, ZOE)
    assert (await exchange(client, challenge, code)).status_code == 200
    again = await exchange(client, challenge, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_token_endpoint_errors_are_oauth_shaped(client) -> None:
    bad_grant = await client.post("/mes/api/v1/token", data={"grant_type": "password", "challenge": "x", "code": "1"})
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "unsupported_grant_type"
    missing = await client.post("/mes/api/v1/token", data={"grant_type": GRANT_TYPE})
    assert missing.json()["error"] == "invalid_request"
    json_body = await client.post("/mes/api/v1/token", json={"grant_type": GRANT_TYPE})
    assert json_body.status_code == 400 and json_body.json()["error"] == "invalid_request"
    unknown = await exchange(client, "no-such-challenge", "123456")
    assert unknown.json()["error"] == "invalid_grant"


async def _claims(client, ins: str = ZOE) -> dict:
    token = await token_for(client, ins)
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


async def test_token_checks(client, session) -> None:
    from sqlalchemy import select

    from app.mes.models import MesSigningKey

    claims = await _claims(client)
    row = (await session.execute(select(MesSigningKey))).scalars().first()
    key = ECKey.import_key(dict(row.private_jwk))

    def signed(**changes) -> str:
        return jwt.encode({"alg": "ES256", "kid": row.kid}, {**claims, **changes}, key, algorithms=["ES256"])

    async def me(token: str):
        return await client.get("/mes/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert (await me(signed())).status_code == 200  # the control: a well-signed token passes
    cases = {
        "MES:token-aud": signed(aud="psc"),
        "MES:token-iss": signed(iss="http://elsewhere/mes"),
        "MES:token-expired": signed(exp=int(time.time()) - 5),
        "MES:token-malformed": "not-a-jwt",
    }
    other = ECKey.generate_key("P-256")  # a valid signature from another key, with this kid
    cases["MES:token-signature"] = jwt.encode({"alg": "ES256", "kid": row.kid}, claims, other, algorithms=["ES256"])
    for rule, token in cases.items():
        response = await me(token)
        assert response.status_code == 401, (rule, response.text)
        assert response.json()["rule"] == rule, (rule, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
    hs = jwt.encode({"alg": "HS256", "kid": row.kid}, claims, OctKey.import_key(b"x" * 32), algorithms=["HS256"])
    assert (await me(hs)).json()["rule"] == "MES:token-alg"
    assert (await client.get("/mes/api/v1/me")).status_code == 401


async def test_sign_out_revokes_the_token(client) -> None:
    token = await token_for(client, ZOE)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/mes/api/v1/sign-out", headers=headers)).status_code == 204
    after = await client.get("/mes/api/v1/me", headers=headers)
    assert after.status_code == 401 and after.json()["rule"] == "MES:token-revoked"
