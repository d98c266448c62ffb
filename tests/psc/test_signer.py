"""app.psc.signer: signatures computed in the signing thread make the same tokens joserfc makes on the loop."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from app.psc import signer, tokens
from app.psc.keys import KeyRing, StoredKey, generate_private_jwk

CLAIMS = {
    "exp": 1_900_000_000, "iat": 1_899_999_700, "jti": "2c1f7c39-1c1e-4a8a-9c43-0e2b2d9c2f11",
    "iss": "http://sandbox.test/auth/realms/esante-wallet", "aud": "account", "typ": "Bearer",
    "given_name": "Hélène", "family_name": "D'Aéion \"Cœur\" \\ \u2028 \x01 \x7f 😀", "acr": "1",
    "scope": "openid scope_all", "amount": 1.5, "flag": True, "none": None, "list": [1, "é", {"k": []}],
}


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing.build([StoredKey(kid=jwk["kid"], alg=alg, private_jwk=jwk, active=True)
                          for alg in ("RS256", "ES256") for jwk in [generate_private_jwk(alg)]])


class _Settings:
    def __init__(self, fast_paths: bool) -> None:
        self.fast_paths = fast_paths


def _public(ring: KeyRing) -> KeySet:
    return KeySet([ring.keys[kid] for kid in ring.keys])


async def test_rs256_off_the_loop_is_joserfc_byte_for_byte(ring: KeyRing) -> None:
    """RSASSA-PKCS1-v1_5 is deterministic: the same header, payload and signature as joserfc's."""
    for typ in ("JWT", "Logout+jwt"):
        fast = await signer.sign(_Settings(True), ring, CLAIMS, alg="RS256", typ=typ)
        plain = await signer.sign(_Settings(False), ring, CLAIMS, alg="RS256", typ=typ)
        assert fast == plain == tokens.sign(ring, CLAIMS, alg="RS256", typ=typ)


async def test_es256_off_the_loop_verifies_with_the_same_signing_input(ring: KeyRing) -> None:
    """ECDSA signatures differ each time: the signing input is joserfc's, the signature R || S verifies."""
    fast = await signer.sign(_Settings(True), ring, CLAIMS, alg="ES256")
    plain = tokens.sign(ring, CLAIMS, alg="ES256")
    assert fast.rsplit(".", 1)[0] == plain.rsplit(".", 1)[0]
    assert len(tokens._b64url_decode(fast.rsplit(".", 1)[1])) == 64
    decoded = jwt.decode(fast, _public(ring), algorithms=["ES256"])
    assert decoded.claims == CLAIMS and decoded.header["kid"] == ring.active["ES256"]


async def test_the_signatures_are_made_in_the_signing_thread(ring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    original = tokens.jws_signature

    def spy(private_key, alg, data):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return original(private_key, alg, data)

    monkeypatch.setattr(tokens, "jws_signature", spy)
    many = [dict(CLAIMS, jti=str(n)) for n in range(40)]
    signed = await asyncio.gather(*(signer.sign(_Settings(True), ring, claims) for claims in many))
    assert set(threads) == {"psc-signer"}
    # each request gets its own token back, in order, whatever the thread's pace
    assert [jwt.decode(token, _public(ring), algorithms=["RS256"]).claims["jti"] for token in signed] == [
        str(n) for n in range(40)]
    await signer.sign(_Settings(False), ring, CLAIMS)
    assert len(threads) == 40  # the plain path signs on the loop, with joserfc


async def test_a_failed_signature_is_raised_to_its_request_and_the_thread_goes_on(ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="unsupported signing algorithm"):
        await signer.signature_off_loop(ring.keys[ring.active["RS256"]].private_key, "HS256", b"x")  # type: ignore[arg-type]
    assert jwt.decode(await signer.sign(_Settings(True), ring, CLAIMS), _public(ring), algorithms=["RS256"])


async def test_a_request_that_goes_away_leaves_the_thread_serving(ring: KeyRing) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        waiting = [asyncio.ensure_future(signer.sign(_Settings(True), ring, dict(CLAIMS, jti=str(n))))
                   for n in range(5)]
        await asyncio.sleep(0)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        token = await asyncio.wait_for(signer.sign(_Settings(True), ring, CLAIMS), 5)
    finally:
        loop.set_exception_handler(previous)
    assert token == tokens.sign(ring, CLAIMS)
    assert errors == []  # the signatures nobody waits for any more are dropped quietly, not set on a done future


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death, on purpose
async def test_a_thread_that_died_is_started_again(ring: KeyRing) -> None:
    await signer.sign(_Settings(True), ring, CLAIMS)
    assert signer._thread is not None
    signer._jobs.put(None)  # type: ignore[arg-type]  # unpacking it ends the thread, as any bug there would
    signer._thread.join(5)
    assert not signer._thread.is_alive()
    assert await asyncio.wait_for(signer.sign(_Settings(True), ring, CLAIMS), 5) == tokens.sign(ring, CLAIMS)


def test_a_forked_child_signs_with_its_own_thread(ring: KeyRing) -> None:
    """A worker forked from a process that has signed (gunicorn --preload, os.fork) must not wait forever on
    the parent's thread, which the fork did not copy."""
    asyncio.run(signer.sign(_Settings(True), ring, CLAIMS))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one signature within 5 s, or nothing written
        try:
            token = asyncio.run(asyncio.wait_for(signer.sign(_Settings(True), ring, CLAIMS), 5))
            os.write(write, token.encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    written = b""
    while chunk := os.read(read, 4096):
        written += chunk
    os.close(read)
    assert status == 0 and written.decode() == tokens.sign(ring, CLAIMS)
