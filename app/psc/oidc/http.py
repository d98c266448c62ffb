"""What the OIDC endpoints share: the path prefix, the no-store headers, form bodies (RFC 6749 §3.2:
``application/x-www-form-urlencoded``) with the limits of stored parameters, JSON answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote_plus

import orjson
from fastapi import Depends, Header, HTTPException, Request
from fastapi.responses import Response
from starlette.formparsers import parse_options_header  # the one request.form() reads the media type with

from app.api.deps import SessionDep, SettingsDep
from app.psc.clients import ClientLike, authenticate_client
from app.psc.config import REALM_PATH
from app.psc.exceptions import InvalidRequest

OIDC = REALM_PATH + "/protocol/openid-connect"
SESSION_COOKIE = "PSC_SESSION"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
AuthorizationHeader = Annotated[str | None, Header(include_in_schema=False)]
"""The ``Authorization`` header of an endpoint that authenticates clients (HTTP Basic, RFC 6749 §2.3.1)."""
# Stored free-text parameters and their limits (columns: models.py; Text columns get a sane cap).
PARAM_LIMITS = {
    "state": 2048,
    "nonce": 512,
    "scope": 2048,
    "login_hint": 64,
    "acr_values": 255,
    "binding_message": 1024,
    "ui_locales": 255,
    "prompt": 255,
    "code_challenge": 128,
    "code_challenge_method": 8,
    "response_mode": 32,
    "response_type": 32,
    "max_age": 32,
    "client_id": 255,
    "redirect_uri": 2048,
    "subject_name_id": 64,
    "psc_action": 16,
}
LOGOUT_LIMITS = {"id_token_hint": 80 * 1024, "post_logout_redirect_uri": 2048, "state": 2048, "client_id": 255}


def too_long(params: dict[str, str]) -> str | None:
    """The first parameter longer than its limit (``PARAM_LIMITS``), or None."""
    for name, limit in PARAM_LIMITS.items():
        value = params.get(name)
        if value is not None and len(value) > limit:
            return name
    return None


async def read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise InvalidRequest("the body must be application/x-www-form-urlencoded", rule="PSC:form.content_type")
    if request.app.state.settings.fast_paths:
        values = await _urlencoded(content_type, request.stream())
    else:
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
    _refuse_nul(values)
    return values


FORM_MEDIA_TYPE = b"application/x-www-form-urlencoded"
FORM_MAX_FIELDS = 1000
FORM_MAX_FIELD_BYTES = 1024 * 1024


async def _urlencoded(content_type: str, chunks: AsyncIterator[bytes]) -> dict[str, str]:
    """A form body read as Starlette's ``request.form()`` reads it (python-multipart's non-strict querystring
    parser), a fast path: the parser's callbacks were a tenth of a token's time on the event loop. The media
    type is read by the same ``parse_options_header`` (not exactly ``application/x-www-form-urlencoded``: no
    field, the body unread). Fields split on ``&`` only, empty ones skipped; a name without ``=`` has the empty
    value; names and values are read as Latin-1, then ``+`` and percent escapes decoded as UTF-8; a repeated
    name keeps its last value. Read as it arrives: a field (name and value) past 1 MB is refused as soon as it
    is, and the 1,001st field at its end, with Starlette's 400s. Compared with the plain path in
    tests/psc/oidc/test_hot_paths.py."""
    media_type, _ = parse_options_header(content_type)
    if media_type != FORM_MEDIA_TYPE:
        return {}
    form = _Fields()
    pending: list[bytes] = []  # the field not ended yet, in pieces (joined only once it ends: linear time)
    pending_size, pending_equals = 0, False
    async for chunk in chunks:
        if b"&" in chunk:
            *ended, last = b"".join([*pending, chunk]).split(b"&")
            for field in ended:
                form.add(field)
            pending, pending_size, pending_equals = [last], len(last), b"=" in last
        else:
            pending.append(chunk)
            pending_size += len(chunk)
            pending_equals = pending_equals or b"=" in chunk
        if pending_size - pending_equals > FORM_MAX_FIELD_BYTES:  # the first "=" is not the field's
            raise _field_too_large()
    form.add(b"".join(pending))
    return form.values


class _Fields:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.count = 0  # fields read, a repeated name included (python-multipart counts them so)

    def add(self, field: bytes) -> None:
        if not field:
            return
        name, _, value = field.partition(b"=")
        if len(name) + len(value) > FORM_MAX_FIELD_BYTES:
            raise _field_too_large()
        self.count += 1
        if self.count > FORM_MAX_FIELDS:
            raise HTTPException(400, f"Too many fields. Maximum number of fields is {FORM_MAX_FIELDS}.")
        self.values[unquote_plus(name.decode("latin-1"))] = unquote_plus(value.decode("latin-1"))


def _field_too_large() -> HTTPException:
    return HTTPException(400, f"Field exceeded maximum size of {FORM_MAX_FIELD_BYTES // 1024}KB.")


def _refuse_nul(values: dict[str, str]) -> None:
    # A NUL character can be neither stored nor compared by PostgreSQL: refuse it as bad input.
    if any("\x00" in k or "\x00" in v for k, v in values.items()):
        raise InvalidRequest("parameters must not contain NUL characters", rule="PSC:form.nul")


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON answer that is not to be cached (RFC 6749 §5.1). orjson writes the bytes Starlette's
    ``JSONResponse`` writes (compact, UTF-8), in a fraction of the time: this is every token answer."""
    return Response(orjson.dumps(body), status_code=status, headers=NO_STORE, media_type="application/json")


# --- a form request from an authenticated client (introspection, revocation, CIBA) -------------------


@dataclass(frozen=True)
class ClientForm:
    client: ClientLike
    form: dict[str, str]


async def _client_form(
    request: Request, session: Any, settings: Any, authorization: str | None, *, allow_public: bool
) -> ClientForm:
    form = await read_form(request)
    client = await authenticate_client(
        session, settings, authorization=authorization, form=form, allow_public=allow_public
    )
    return ClientForm(client, form)


async def any_client(
    request: Request, session: SessionDep, settings: SettingsDep, authorization: AuthorizationHeader = None
) -> ClientForm:
    """The form and its client, authenticated; a public client naming itself is accepted."""
    return await _client_form(request, session, settings, authorization, allow_public=True)


async def confidential_client(
    request: Request, session: SessionDep, settings: SettingsDep, authorization: AuthorizationHeader = None
) -> ClientForm:
    """The form and its client, authenticated; a public client is refused (``invalid_client``)."""
    return await _client_form(request, session, settings, authorization, allow_public=False)


AnyClientForm = Annotated[ClientForm, Depends(any_client)]
ConfidentialClientForm = Annotated[ClientForm, Depends(confidential_client)]
