"""Token signatures beside the event loop (issue 16, a fast path).

An RS256 signature is ~0.28 ms of OpenSSL, more than everything else a client_credentials token costs; on
the event loop it was 45 % of the token endpoint, and the loop could do nothing else meanwhile. OpenSSL runs
without the GIL, so one daemon thread per process takes signing jobs from a queue while the loop goes on
serving, and hands each signature back with ``call_soon_threadsafe``: the way oidc-provider signs in libuv's
thread pool. Measured under wrk (``bench/peers``; README, "Measured"): tokens/s +48 %, the
loop's CPU per token 0.57 → 0.29 ms. ``loop.run_in_executor`` was measured too and kept about half the
gain: its futures and the executor's locks cost the loop ~60 µs a token more than this queue.

Only the private-key operation crosses: the signing input is built on the loop (:func:`tokens.signing_input`,
the same bytes joserfc writes), the signature is assembled there too. With ``SEGUR_FAST_PATHS=false`` tokens
are signed on the loop by joserfc (:func:`tokens.sign`); ``tests/psc/test_signer.py`` compares the two.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.psc import tokens
from app.psc.keys import KeyRing, SigningAlg

if TYPE_CHECKING:
    from app.config import Settings

Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[bytes]", Any, SigningAlg, bytes]

_jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
_started = threading.Lock()
_thread: threading.Thread | None = None


def _deliver(future: asyncio.Future[bytes], signature: bytes | None, error: BaseException | None) -> None:
    if future.done():  # the request went away (a client that disconnected)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(signature)  # type: ignore[arg-type]


def _work() -> None:
    while True:
        loop, future, private_key, alg, data = _jobs.get()
        signature, error = None, None
        try:
            signature = tokens.jws_signature(private_key, alg, data)
        except Exception as exc:  # handed to the request that asked, raised there
            error = exc
        try:
            loop.call_soon_threadsafe(_deliver, future, signature, error)
        except RuntimeError:  # that loop is closed: nobody waits for this signature any more
            pass


def _ensure_thread() -> None:
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    with _started:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_work, name="psc-signer", daemon=True)
            _thread.start()


def _forget_after_fork() -> None:
    """A forked child has no signing thread (only the forking thread survives a fork) and must not share the
    parent's queue: it starts its own on its first signature."""
    global _jobs, _started, _thread
    _jobs, _started, _thread = queue.SimpleQueue(), threading.Lock(), None


os.register_at_fork(after_in_child=_forget_after_fork)


async def signature_off_loop(private_key: Any, alg: SigningAlg, data: bytes) -> bytes:
    """``tokens.jws_signature(private_key, alg, data)``, computed in the signing thread."""
    _ensure_thread()
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bytes] = loop.create_future()
    _jobs.put((loop, future, private_key, alg, data))
    return await future


async def sign(settings: Settings, ring: KeyRing, claims: Mapping[str, Any], *, alg: SigningAlg = "RS256",
               typ: str = "JWT") -> str:
    """A signed compact JWT with the ring's active ``alg`` key: off the loop on the fast path, else
    :func:`tokens.sign` (joserfc) on the loop. The same token either way (RS256 is deterministic)."""
    if not settings.fast_paths:
        return tokens.sign(ring, claims, alg=alg, typ=typ)
    kid, key = ring.signing_key(alg)
    data = tokens.signing_input(claims, kid=kid, alg=alg, typ=typ)
    return tokens.compact(data, await signature_off_loop(key.private_key, alg, data))
