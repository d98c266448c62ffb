"""The plumbing of the patient's pages (:mod:`app.mes.pages`): templates, the page session cookie, CSRF, the
state of a form interrupted by an expired session, safe ``next`` paths, and errors rendered as pages.

- Session: the cookie ``mes_session`` holds the id of a server-side session (:func:`app.mes.service.web_session`),
  HttpOnly, SameSite=Lax, ``Secure`` when the request came over https, path ``/mes`` (``/t/<tenant>/mes`` in a
  tenant, so a browser never sends one tenant's session to another's pages; the session row is the tenant's too).
- Tenants: handlers see the paths without the ``/t/<tenant>`` prefix (:mod:`app.api.tenants`); every path the pages
  emit (links, form actions, the stylesheet, ``Location``, ``next``, the cookie's ``Path``) is given it back with
  :func:`app.tenancy.tenant_path` (templates: ``{{ tp }}/mes/...``), and a ``next`` is accepted only as a path of
  the request's own tenant.
- CSRF: every POST form carries the session's token in a hidden field ``csrf_token``, compared in constant time
  (OWASP CSRF Prevention Cheat Sheet, "Synchronizer Token Pattern"). The sign-in forms, posted before any
  session exists, use a double-submit cookie (``mes_signin``) instead (same sheet, "Double Submit Cookie").
- An expired session never loses a form: a POST without a live session comes back to the sign-in page with the
  form's fields carried in one hidden field (``pending``, an upload's file too when it is small enough), and after
  sign-in the page asks to confirm the action with a fresh CSRF token. A GET comes back to the page asked for
  (``next``, a path of this site under the tenant's ``/mes/`` only: no open redirect).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from app.api.deps import holds_nul
from app.api.errors import problem_response
from app.api.journal import note_refusal
from app.config import Settings
from app.ins import service as ins_service
from app.mes import service
from app.mes.api.problems import status_of
from app.mes.exceptions import (
    MesError,
    MesInvalid,
)
from app.tenancy import tenant_path, tenant_prefix

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
STYLESHEET = (HERE / "static" / "mes.css").read_bytes()

SESSION_COOKIE = "mes_session"
SIGNIN_COOKIE = "mes_signin"
COOKIE_PATH = "/mes"
"""The cookies' path in the default tenant; :func:`cookie_path` gives the current tenant's."""
# Pages load nothing from elsewhere (one stylesheet of this site, no script); a document's file is framed from
# this origin only; forms post to this origin only; the pages themselves are never framed.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
NO_STORE = {"Cache-Control": "no-store"}

PENDING_FILE_MAX = 2 * 1024 * 1024
"""The largest upload kept across a sign-in (base64 in the sign-in forms); a larger file is asked for again."""
PENDING_PART_MAX = 4 * PENDING_FILE_MAX
"""The largest form field the pages read (Starlette's default is 1 MB): the ``pending`` field of the sign-in
forms holds a kept upload base64-encoded twice (4/3 x 4/3 of :data:`PENDING_FILE_MAX`, with the other fields), and
the resume form's ``pending_file`` once; :meth:`Pending.decode` refuses what is longer."""
PENDING_MAX_FIELDS = 30
PENDING_MAX_VALUE = 20_000
# Segments never start with a dot: a browser would resolve "/.." in a form's action.
_PENDING_ACTION = re.compile(r"^/mes/patients/[0-9A-Za-z]{1,20}(/[0-9A-Za-z_~-][0-9A-Za-z._~-]{0,199}){1,4}$")
_SAFE_NEXT = re.compile(r"^/mes(/[0-9A-Za-z._~%-]*)*(\?[0-9A-Za-z._~%&=+-]*)?$")


# --- templates and pages ------------------------------------------------------------------------------------

def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page: the template with a strict Content-Security-Policy, no framing, never cached."""
    all_headers = {**NO_STORE, **(headers or {}), "Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY",
                   "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff"}
    # ``tp``: the tenant's path prefix, before every site-absolute path of a template ("" in the default tenant)
    return templates.TemplateResponse(request, name, {**context, "tp": tenant_prefix()}, status_code=status_code,
                                      headers=all_headers)


def redirect(path: str) -> RedirectResponse:
    """A 303 to ``path`` (``/mes/...``) in the current tenant, never cached."""
    return RedirectResponse(tenant_path(path), status_code=303, headers=NO_STORE)


def cookie_path() -> str:
    """The path of the pages' cookies in the current tenant: ``/mes`` or ``/t/<tenant>/mes``."""
    return tenant_path(COOKIE_PATH)


def error_page(request: Request, status: int, title: str, message: str, *, rule: str | None = None,
               page: PageContext | None = None) -> HTMLResponse:
    """A refusal as a French page with the right status (the journal records the rule)."""
    note_refusal(request, rule=rule, detail=message, status=status)
    return render(request, "error.html", {"title": title, "message": message, "status": status, "ctx": page},
                  status_code=status)


_STATUS_TITLES = {
    400: "Demande invalide", 403: "Action refusée", 404: "Page introuvable", 405: "Méthode non permise",
    409: "Action impossible", 413: "Envoi trop volumineux", 415: "Type de fichier refusé",
    422: "Demande refusée", 500: "Erreur interne",
}


def render_generic_error(request: Request, status: int, message: str, rule: str | None) -> Response:
    """``Domain.error_renderers`` for ``/mes`` pages: unknown routes, 405, 413, malformed forms as a page (the
    patient API under ``/mes/api/`` keeps RFC 9457 problem JSON)."""
    if request.url.path.startswith("/mes/api/"):
        title = _PROBLEM_TITLES.get(status, "Error")
        return problem_response(request, status, title, message, rule=rule)
    french = {
        404: "Cette page n'existe pas dans Mon espace santé (simulé).",
        405: "Cette action ne s'utilise pas ainsi ; revenez à la page précédente.",
        413: "L'envoi dépasse la taille acceptée.",
    }.get(status, "La demande n'a pas pu être traitée.")
    return render(request, "error.html", {"title": _STATUS_TITLES.get(status, "Erreur"), "message": french,
                                          "detail": message, "status": status, "ctx": None}, status_code=status)


def _documented_content(path: str) -> dict[str, Any] | None:
    """What :func:`render_generic_error` answers on ``path``, for the OpenAPI document: the patient API's
    problem JSON (``None``: the platform's), the pages' HTML."""
    return None if path.startswith("/mes/api/") else {"text/html": {}}


render_generic_error.documented_content = _documented_content  # type: ignore[attr-defined]

_PROBLEM_TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large",
                   415: "Unsupported Media Type", 422: "Unprocessable Content", 500: "Internal Server Error"}


# --- what every page shows -------------------------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")


def fr_datetime(value: datetime | None, with_time: bool = True) -> str:
    """An instant as a French reader expects it, in Paris time."""
    if value is None:
        return ""
    local = value.astimezone(PARIS) if value.tzinfo else value
    return local.strftime("%d/%m/%Y à %H:%M" if with_time else "%d/%m/%Y")


templates.env.filters["fr_datetime"] = fr_datetime
templates.env.filters["fr_date"] = lambda value: fr_datetime(value, with_time=False)
# INSi's DateNaissance (YYYY-MM-DD, "00" for an unknown day or month) in French order
templates.env.filters["fr_birth"] = lambda value: "/".join(reversed(str(value).split("-"))) if value else ""

FLASH = {
    "masque": "Le document est masqué aux professionnels (son auteur le voit toujours).",
    "demasque": "Le document est de nouveau visible des professionnels autorisés.",
    "supprime": "Le document a été supprimé.",
    "cache-representants": "Le document est caché à vos représentants légaux.",
    "montre-representants": "Le document est de nouveau visible de vos représentants légaux.",
    "ajoute": "Votre document a été ajouté ; les professionnels le voient comme un document déposé par vous.",
    "autorise": "Le professionnel est autorisé à consulter votre profil.",
    "bloque": "Le professionnel est bloqué : il ne peut plus accéder à votre profil.",
    "debloque": "Le professionnel est débloqué.",
    "urgence": "Vos choix d'accès en urgence sont enregistrés.",
    "ferme": "Votre profil est fermé.",
    "rouvert": "Votre profil est rouvert.",
    "oppose": "Votre opposition à la création du profil est enregistrée.",
    "lues": "Les notifications sont marquées comme lues.",
    "courriel": "L'adresse de notification est enregistrée.",
    "repondu": "Votre réponse est envoyée.",
    "envoye": "Votre message est envoyé à la pharmacie.",
    "connecte": "Vous êtes connecté(e).",
}


def base_context(request: Request, ctx: PageContext | None, nav: str, **values: Any) -> dict[str, Any]:
    return {"ctx": ctx, "nav": nav, "flash": FLASH.get(request.query_params.get("ok", "")), **values}


def done(ins: str, path: str, ok: str) -> RedirectResponse:
    """After an action: back to its page (POST/redirect/GET), saying what was done."""
    return redirect(f"/mes/patients/{ins}{path}?ok={ok}")


MAX_ID = 2**31 - 1  # the ids are 32-bit integers (PostgreSQL ``integer``)


def refuse_nul(text: str, name: str) -> None:
    """PostgreSQL text holds no U+0000 (NUL): one in a field is the user's error (400 page), not a 500."""
    if "\x00" in text:
        raise MesInvalid(f"field {name} holds U+0000 (NUL)", rule="mes:form-nul",
                         french=f"Le champ « {name} » contient un caractère nul, qu'aucun texte ne peut contenir.")


def form_id(value: object, name: str) -> int:
    """An id of a form or query (1 to 2^31-1), or the user's error (400 page)."""
    if not isinstance(value, str) or not value.isdigit() or not 1 <= int(value[:12]) <= MAX_ID:
        raise MesInvalid(f"{name} is not an id", rule="mes:form-id",
                         french=f"La valeur de « {name} » n'est pas un identifiant valide.")
    return int(value)


def field(form: Any, name: str, *, required: bool = True, max_length: int = 200) -> str:
    """A text field of a form, trimmed; a missing or oversized one is the user's error (400 page)."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    refuse_nul(text, name)
    if required and not text:
        raise MesInvalid(f"field {name} is required", rule="mes:form-field",
                         french=f"Le champ « {name} » est obligatoire.")
    if len(text) > max_length:
        raise MesInvalid(f"field {name} is too long", rule="mes:form-field",
                         french=f"Le champ « {name} » dépasse {max_length} caractères.")
    return text


# --- the page session and CSRF --------------------------------------------------------------------------------

@dataclass
class PageContext:
    """What every signed-in page knows: the session, the actor, the persons they act for, the patient shown."""

    web: Any  # service.WebSession
    persons: list[Any] = dataclass_field(default_factory=list)
    patient: Any = None

    @property
    def actor(self) -> Any:
        return self.web.actor

    @property
    def csrf_token(self) -> str:
        return str(self.web.csrf_token)


class SignInNeeded(Exception):
    """No live page session: a GET goes to the sign-in page, a POST keeps its form across the sign-in."""


class CsrfRefused(Exception):
    """A POST whose CSRF token is missing or wrong."""


def set_session_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path=cookie_path(), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(), httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")


def tokens_match(given: object, expected: str | None) -> bool:
    """Constant-time comparison of a form's token with the expected one (an absent token never matches)."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


async def current_session(request: Request, session: AsyncSession, settings: Settings) -> Any:
    """The live page session of this request's cookie (its idle expiry pushed back), or None."""
    return await service.web_session(session, settings=settings, session_id=request.cookies.get(SESSION_COOKIE))


async def signed_in(request: Request, session: AsyncSession, settings: Settings, *, ins: str | None = None,
                    form: FormData | None = None) -> PageContext:
    """The page context, or :class:`SignInNeeded`; a POST's ``form`` must hold the session's CSRF token. ``ins``:
    the patient shown, the actor or a minor they represent (anyone else: :class:`MesNotFound`, a 404)."""
    web = await current_session(request, session, settings)
    if web is None:
        raise SignInNeeded
    if form is not None and not tokens_match(form.get("csrf_token"), web.csrf_token):
        raise CsrfRefused
    persons = await service.persons_for(session, actor=web.actor)
    ctx = PageContext(web=web, persons=persons)
    if ins is not None:
        ctx.patient = await service.patient_for(session, actor=web.actor, ins=ins)
    return ctx


def signin_token(request: Request) -> tuple[str, bool]:
    """The double-submit token of the sign-in forms: the cookie's, or a new one (True: set the cookie)."""
    existing = request.cookies.get(SIGNIN_COOKIE)
    if existing and re.fullmatch(r"[A-Za-z0-9_-]{20,64}", existing):
        return existing, False
    return secrets.token_urlsafe(24), True


def set_signin_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SIGNIN_COOKIE, token, path=cookie_path(), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


# --- next paths and the pending form --------------------------------------------------------------------------

def safe_next(value: object) -> str | None:
    """A path of the patient's pages to go back to after sign-in, or None: only ``/mes/...`` of this site's current
    tenant (``/t/<tenant>/mes/...``; no scheme, no host, no ``//``, no backslash), so the sign-in page is never an
    open redirect, nor a way into another tenant's pages. Returned without the tenant's prefix (the handlers'
    paths): :func:`sign_in_url` and the redirect after sign-in give it back."""
    if not isinstance(value, str) or not value or len(value) > 1000:
        return None
    prefix = tenant_prefix()
    if prefix:
        if not value.startswith(prefix + "/"):
            return None  # the default tenant's path, or another tenant's
        value = value[len(prefix):]
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "//" in value or "\\" in value or not _SAFE_NEXT.match(value):
        return None
    if ".." in parts.path.split("/"):
        return None
    return value


def sign_in_url(next_path: str | None) -> str:
    """The sign-in page of the current tenant, with ``next`` (a path of :func:`safe_next`) as the tenant's."""
    return tenant_path("/mes/connexion") + (f"?next={quote(tenant_path(next_path), safe='/')}" if next_path else "")


@dataclass
class Pending:
    """A form posted while the session had expired: where it went, its fields, and the upload kept (if any)."""

    action: str
    fields: list[tuple[str, str]]
    file_name: str | None = None
    file_type: str | None = None
    file_b64: str | None = None
    file_dropped: bool = False

    def encode(self) -> str:
        data: dict[str, Any] = {"a": self.action, "f": self.fields}
        if self.file_b64 is not None:
            data["file"] = [self.file_name, self.file_type, self.file_b64]
        if self.file_dropped:
            data["dropped"] = True
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)  # UTF-8, not 6 bytes per \uXXXX escape
        return base64.urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def decode(cls, value: object) -> Pending | None:
        """The pending form of a hidden field, or None when absent or not one of ours (never trusted more than
        the user's own input: the action is confirmed again with a fresh CSRF token)."""
        if not isinstance(value, str) or not value or len(value) > PENDING_PART_MAX:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(value.encode()))
            action = data["a"]
            fields = [(str(k), str(v)) for k, v in data["f"]][:PENDING_MAX_FIELDS]
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if holds_nul(data):  # every value of it comes back to a handler
            raise MesInvalid("the kept form holds U+0000 (NUL)", rule="mes:form-nul",
                             french="Le formulaire conservé contient un caractère nul, qu'aucun texte ne peut "
                                    "contenir : recommencez l'action.")
        if not isinstance(action, str) or not _PENDING_ACTION.match(action):
            return None
        pending = cls(action=action, fields=fields, file_dropped=bool(data.get("dropped")))
        kept = data.get("file")
        if isinstance(kept, list) and len(kept) == 3 and all(isinstance(x, str) for x in kept):
            pending.file_name, pending.file_type, pending.file_b64 = kept
        return pending


async def read_form(request: Request, *, max_files: int = 1000, max_fields: int = 1000) -> FormData:
    """The posted form, its fields up to :data:`PENDING_PART_MAX` (a form kept across a sign-in is larger than
    Starlette's default part size of 1 MB)."""
    return await request.form(max_files=max_files, max_fields=max_fields, max_part_size=PENDING_PART_MAX)


async def pending_of(request: Request, form: FormData) -> Pending | None:
    """The form of this POST, to keep across a sign-in: its fields (not the CSRF token), an upload's file when at
    most :data:`PENDING_FILE_MAX` bytes."""
    if not _PENDING_ACTION.match(request.url.path):
        return None
    fields: list[tuple[str, str]] = []
    pending = Pending(action=request.url.path, fields=fields)
    for name, value in form.multi_items():
        if name in ("csrf_token", "pending_file", "pending_file_name", "pending_file_type"):
            continue
        if isinstance(value, UploadFile):
            content = await value.read(PENDING_FILE_MAX + 1)
            if not content:
                continue
            if len(content) > PENDING_FILE_MAX:
                pending.file_dropped = True
            else:
                pending.file_name = (value.filename or "document.pdf")[:200]
                pending.file_type = value.content_type or "application/octet-stream"
                pending.file_b64 = base64.b64encode(content).decode()
        elif len(fields) < PENDING_MAX_FIELDS:
            fields.append((name[:100], value[:PENDING_MAX_VALUE]))
    # A form kept from an earlier interruption (the resume page posted again after another expiry).
    if form.get("pending_file") and pending.file_b64 is None:
        pending.file_b64 = str(form.get("pending_file"))[: 4 * PENDING_FILE_MAX // 3 + 4]
        pending.file_name = str(form.get("pending_file_name") or "document.pdf")[:200]
        pending.file_type = str(form.get("pending_file_type") or "application/pdf")[:100]
    return pending


# --- route wrapper --------------------------------------------------------------------------------------------

P = ParamSpec("P")


def page_route(endpoint: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Turn what a page handler raises into a page: sign-in needed, CSRF refused, and the service's errors
    (the transaction rolled back first: nothing of a refused action is stored)."""

    @functools.wraps(endpoint)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request: Request = kwargs["request"]  # type: ignore[assignment]
        session: AsyncSession = kwargs["session"]  # type: ignore[assignment]
        try:
            return await endpoint(*args, **kwargs)
        except SignInNeeded:
            await session.rollback()
            if request.method == "GET":
                # the handlers' path has no tenant prefix: the page asked for is the tenant's own
                target = tenant_path(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(sign_in_url(safe_next(target)), status_code=303, headers=NO_STORE)
            form = await read_form(request)
            pending = await pending_of(request, form)
            note_refusal(request, rule="mes:session-expired", detail="no live page session: the form is kept "
                         "across the sign-in", status=401)
            return await signin_page(request, session, pending=pending, expired=True)
        except CsrfRefused:
            await session.rollback()
            return error_page(
                request, 403, "Formulaire refusé",
                "Ce formulaire n'a pas pu être vérifié (jeton anti-falsification absent ou incorrect). Revenez à "
                "la page, rechargez-la puis recommencez.", rule="mes:csrf")
        except MesError as error:
            await session.rollback()
            status, _ = status_of(error)  # the patient API's mapping: one place for both faces
            return error_page(request, status, _STATUS_TITLES.get(status, "Erreur"), error.french, rule=error.rule)

    return wrapper


async def signin_page(request: Request, session: AsyncSession, *, pending: Pending | None = None, expired: bool = False,
                      next_path: str | None = None, error: str | None = None, status_code: int = 200,
                      ins: str = "") -> Response:
    """The first sign-in step (choose or type an INS), with the form kept across it when there is one."""
    token, new = signin_token(request)
    persons = await ins_service.list_identities(session)
    response = render(request, "signin.html", {
        "persons": persons, "signin_token": token, "pending": pending.encode() if pending else "",
        "pending_label": action_label(pending.action) if pending else "", "expired": expired,
        "next": next_path or "", "error": error, "ins": ins, "ctx": None,
    }, status_code=401 if expired and status_code == 200 else status_code)
    if new:
        set_signin_cookie(response, request, token)
    return response


_ACTION_LABELS = (
    (r"/documents/ajouter$", "Ajouter un document"),
    (r"/documents/[^/]+/masquage$", "Masquer ou démasquer un document"),
    (r"/documents/[^/]+/suppression$", "Supprimer un document"),
    (r"/documents/[^/]+/representants$", "Masquer ou montrer un document à vos représentants légaux"),
    (r"/acces/autoriser$", "Autoriser un professionnel"),
    (r"/acces/bloquer$", "Bloquer un professionnel"),
    (r"/acces/debloquer$", "Débloquer un professionnel"),
    (r"/acces/urgence$", "Modifier l'accès en urgence"),
    (r"/profil/fermer$", "Fermer le profil"),
    (r"/profil/rouvrir$", "Rouvrir le profil"),
    (r"/profil/opposition$", "S'opposer à la création du profil"),
    (r"/notifications/lues$", "Marquer les notifications comme lues"),
    (r"/notifications/courriel$", "Modifier l'adresse de notification"),
    (r"/messages/[^/]+/repondre$", "Répondre à un message"),
    (r"/messages/pharmacie$", "Écrire à une pharmacie"),
)


FIELD_LABELS = {
    "rpps": "RPPS", "title": "Titre", "type_code": "Type de document", "service_date": "Date de l'acte",
    "masked": "Masquer (1) ou montrer (0)", "hidden": "Cacher (1) ou montrer (0)", "confirmer": "Confirmation",
    "motif": "Motif", "email": "Adresse électronique", "text": "Texte", "subject": "Objet", "mailbox": "Pharmacie",
    "oppose_bris_de_glace": "Opposition au bris de glace", "oppose_centre_15": "Opposition au centre 15",
    "id": "Notification",
}


def action_label(action: str) -> str:
    for pattern, label in _ACTION_LABELS:
        if re.search(pattern, action):
            return label
    return "Votre dernière action"
