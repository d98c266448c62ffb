"""The web console's session cookie when ``SEGUR_CONTROL_TOKEN`` is set: ``<expiry>.<HMAC-SHA256(token, expiry)>``.

It never holds the token, every worker can check it with no server-side state, and it is void as soon as the
token changes. Here in ``app.api`` because two packages read it: the console (``app/console/access.py``, which
sets it at sign-in) and the control API's token check (``app/api/deps.py``), which lets a signed-in browser
follow the console's links to the control API's GET routes (conformance reports, downloads). Pure."""

from __future__ import annotations

import hashlib
import hmac

SESSION_COOKIE = "segur_console"
SESSION_TTL = 12 * 3600
"""How long a sign-in lasts, in seconds."""


def _mac(token: str, expires: int) -> str:
    return hmac.new(token.encode(), f"segur-console-session:{expires}".encode(), hashlib.sha256).hexdigest()


def session_value(token: str, *, now: int) -> str:
    """The session cookie's value for a sign-in at ``now`` (Unix seconds)."""
    expires = now + SESSION_TTL
    return f"{expires}.{_mac(token, expires)}"


def session_valid(token: str, value: str | None, *, now: int) -> bool:
    """Whether ``value`` is a session cookie made with ``token`` that has not expired."""
    if not value:
        return False
    expires, _, mac = value.partition(".")
    if not (expires.isdigit() and len(expires) <= 12) or int(expires) <= now:
        return False
    return hmac.compare_digest(mac.encode(), _mac(token, int(expires)).encode())
