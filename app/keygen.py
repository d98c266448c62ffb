"""RSA-2048 private keys, generated ahead in a background thread for a store that is about to need them.

A first start of the embedded store needs two (the PSC RS256 signing key and the SMTP test certificate),
25–100 ms each. ``cryptography`` releases the GIL while it searches for primes, so generating them while the
migrations run takes them off the start-up path. Anything that needs a key asks :func:`rsa_2048`: it gets a
key made ahead when one is ready or being made, a fresh one otherwise.
"""

from __future__ import annotations

import queue
import threading

from cryptography.hazmat.primitives.asymmetric import rsa

_ready: queue.SimpleQueue[rsa.RSAPrivateKey] = queue.SimpleQueue()
_lock = threading.Lock()
_pending = 0


def _generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def prefetch_rsa_2048(count: int) -> None:
    """Start generating ``count`` keys in a daemon thread."""
    global _pending
    with _lock:
        _pending += count

    def work() -> None:
        global _pending
        for _ in range(count):
            key = _generate()
            with _lock:
                _pending -= 1
            _ready.put(key)

    threading.Thread(target=work, name="rsa-prefetch", daemon=True).start()


def rsa_2048() -> rsa.RSAPrivateKey:
    """A new RSA-2048 private key (one made ahead when there is one)."""
    try:
        return _ready.get_nowait()
    except queue.Empty:
        pass
    with _lock:
        waiting = _pending > 0
    if waiting:
        try:
            return _ready.get(timeout=5)
        except queue.Empty:
            pass
    return _generate()
