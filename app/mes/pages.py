"""The patient's web pages (Mon espace santé, simulated): sign-in, home, access and confidentiality, activity
history, notifications; documents in :mod:`app.mes.pages_documents`, messages in :mod:`app.mes.pages_messages`.

Server-rendered (Jinja2, autoescape), French, no script, one stylesheet of this site. Every page calls the one
service of the patient side (:mod:`app.mes.service`), the same the JSON API calls, so an action here takes effect
at once on the professional side (FHIR, XDS.b, SMTP/IMAP). The plumbing (session cookie, CSRF, the form kept
across an expired session, errors as pages) is in :mod:`app.mes.pages_web`. Pages are not an API: they are left
out of the OpenAPI document (``include_in_schema=False``).

Each action is a POST form answered by a 303 to the page it belongs to (``?ok=`` names what was done), so a
reload never repeats it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.api.journal import note_refusal
from app.mes import pages_documents, pages_messages, service
from app.mes.exceptions import MesInvalid, MesSignInError
from app.mes.pages_web import (
    FIELD_LABELS,
    STYLESHEET,
    PageContext,
    Pending,
    action_label,
    base_context,
    clear_session_cookie,
    current_session,
    done,
    field,
    form_id,
    fr_datetime,
    page_route,
    read_form,
    redirect,
    render,
    safe_next,
    set_session_cookie,
    signed_in,
    signin_page,
    signin_token,
    tokens_match,
)

router = APIRouter(include_in_schema=False)
# --- stylesheet and entry ---------------------------------------------------------------------------------------

@router.get("/mes/static/mes.css", name="mes_page_stylesheet")
async def stylesheet() -> Response:
    return Response(STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600",
                                                                  "X-Content-Type-Options": "nosniff"})


@router.get("/mes", name="mes_page_root")
@router.get("/mes/", name="mes_page_entry")
@page_route
async def entry(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    web = await current_session(request, session, settings)
    if web is None:
        return redirect("/mes/connexion")
    return redirect(f"/mes/patients/{web.actor.ins}")


# --- sign-in ----------------------------------------------------------------------------------------------------

@router.get("/mes/connexion", name="mes_page_sign_in")
@page_route
async def sign_in_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await signin_page(request, session, next_path=safe_next(request.query_params.get("next")))


@router.post("/mes/connexion", name="mes_page_sign_in_start")
@page_route
async def sign_in_start(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await read_form(request)
    token, _ = signin_token(request)
    next_path = safe_next(form.get("next"))
    pending = Pending.decode(form.get("pending"))
    if not tokens_match(form.get("signin_token"), request.cookies.get("mes_signin")):
        note_refusal(request, rule="mes:csrf", detail="sign-in form without its double-submit token", status=403)
        return await signin_page(request, session, pending=pending, next_path=next_path, status_code=403,
                                 error="Le formulaire de connexion n'a pas pu être vérifié : recommencez.")
    typed = form.get("ins")
    chosen = form.get("person")
    ins = (typed if isinstance(typed, str) and typed.strip() else chosen if isinstance(chosen, str) else "") or ""
    ins = ins.strip().replace(" ", "")
    if not ins:
        return await signin_page(request, session, pending=pending, next_path=next_path, status_code=400,
                                 error="Choisissez une personne ou saisissez un INS.")
    try:
        challenge = await service.start_sign_in(session, settings=settings, ins=ins)
    except MesSignInError as error:
        await session.rollback()
        note_refusal(request, rule=error.rule, detail=error.detail, status=400)
        return await signin_page(request, session, pending=pending, next_path=next_path, status_code=400,
                                 error=error.french, ins=ins)
    person = await service.find_person(session, ins=challenge.ins)
    return render(request, "code.html", {
        "ctx": None, "code": challenge.code, "challenge_id": challenge.id, "signin_token": token,
        "expires_at": fr_datetime(challenge.expires_at), "person_name": person.display_name if person else ins,
        "next": next_path or "", "pending": pending.encode() if pending else "",
    })


@router.post("/mes/connexion/code", name="mes_page_sign_in_finish")
@page_route
async def sign_in_finish(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await read_form(request)
    token, _ = signin_token(request)
    next_path = safe_next(form.get("next"))
    pending = Pending.decode(form.get("pending"))
    challenge_id = form.get("challenge_id")
    code = form.get("code")

    async def again(status: int, message: str) -> Response:
        return await signin_page(request, session, pending=pending, next_path=next_path, status_code=status,
                                 error=message)

    if not tokens_match(form.get("signin_token"), request.cookies.get("mes_signin")):
        note_refusal(request, rule="mes:csrf", detail="sign-in form without its double-submit token", status=403)
        return await again(403, "Le formulaire de connexion n'a pas pu être vérifié : recommencez.")
    if not isinstance(challenge_id, str) or not isinstance(code, str):
        return await again(400, "Le code est manquant : recommencez la connexion.")
    try:
        actor = await service.finish_sign_in(session, settings=settings, challenge_id=challenge_id[:100],
                                             code=code.strip()[:20])
    except MesSignInError as error:
        # The attempt was counted in a transaction of its own (app.mes.service): nothing to keep here.
        await session.rollback()
        note_refusal(request, rule=error.rule, detail=error.detail, status=400)
        return await again(400, error.french)
    web = await service.open_web_session(session, settings=settings, actor=actor)
    if pending is not None:
        ctx = await signed_in_after(session, web)
        response: Response = render(request, "resume.html", {
            "ctx": ctx, "nav": "", "pending": pending, "label": action_label(pending.action),
            "upload": pending.action.endswith("/documents/ajouter"), "flash": None, "labels": FIELD_LABELS,
        })
    else:
        response = redirect(next_path or f"/mes/patients/{actor.ins}?ok=connecte")
    set_session_cookie(response, request, web.id, settings.mes_session_idle_seconds)
    return response


async def signed_in_after(session: Any, web: Any) -> PageContext:
    persons = await service.persons_for(session, actor=web.actor)
    return PageContext(web=web, persons=persons, patient=web.actor)


@router.post("/mes/deconnexion", name="mes_page_sign_out")
@page_route
async def sign_out(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    await signed_in(request, session, settings, form=form)
    await service.close_web_session(session, session_id=request.cookies.get("mes_session"))
    response = redirect("/mes/connexion")
    clear_session_cookie(response, request)
    return response


# --- home and profile -------------------------------------------------------------------------------------------

@router.get("/mes/patients/{ins}", name="mes_page_home")
@page_route
async def home(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    profile = await service.profile(session, actor=ctx.actor, ins=ins)
    return render(request, "home.html", base_context(request, ctx, "/", profile=profile))


@router.post("/mes/patients/{ins}/profil/{action}", name="mes_page_profile_action")
@page_route
async def profile_action(request: Request, ins: str, action: str, session: SessionDep,
                         settings: SettingsDep) -> Response:
    form = await request.form()
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    if action == "fermer":
        await service.close_profile(session, actor=ctx.actor, ins=ins,
                                    reason=field(form, "motif", required=False) or None)
        return done(ins, "", "ferme")
    if action == "rouvrir":
        await service.reopen_profile(session, actor=ctx.actor, ins=ins)
        return done(ins, "", "rouvert")
    if action == "opposition":
        await service.object_to_creation(session, actor=ctx.actor, ins=ins)
        return done(ins, "", "oppose")
    raise MesInvalid(f"unknown profile action {action}", rule="mes:form-action",
                     french="Cette action sur le profil n'existe pas.")


# --- access and confidentiality ---------------------------------------------------------------------------------

@router.get("/mes/patients/{ins}/acces", name="mes_page_access")
@page_route
async def access(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    settings_ = await service.access_settings(session, actor=ctx.actor, ins=ins)
    profile = await service.profile(session, actor=ctx.actor, ins=ins)
    return render(request, "access.html", base_context(request, ctx, "/acces", access=settings_, profile=profile))


@router.post("/mes/patients/{ins}/acces/{action}", name="mes_page_access_action")
@page_route
async def access_action(request: Request, ins: str, action: str, session: SessionDep,
                        settings: SettingsDep) -> Response:
    form = await request.form()
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    if action == "urgence":
        # Checkboxes: ticked = "I oppose"; the hidden field says the form had them (an unticked box sends nothing).
        await service.set_emergency_access(
            session, actor=ctx.actor, ins=ins,
            bris_de_glace=form.get("oppose_bris_de_glace") != "1", centre_15=form.get("oppose_centre_15") != "1")
        return done(ins, "/acces", "urgence")
    calls = {"autoriser": (service.authorise_professional, "autorise"),
             "bloquer": (service.block_professional, "bloque"),
             "debloquer": (service.unblock_professional, "debloque")}
    if action not in calls:
        raise MesInvalid(f"unknown access action {action}", rule="mes:form-action",
                         french="Cette action sur les accès n'existe pas.")
    call, ok = calls[action]
    rpps = field(form, "rpps", max_length=20).replace(" ", "")
    await call(session, actor=ctx.actor, ins=ins, rpps=rpps)
    return done(ins, "/acces", ok)


# --- history and notifications ----------------------------------------------------------------------------------

ACCESS_MODES = {"normal": "Accès normal", "bris_de_glace": "Bris de glace", "centre_15": "Centre 15 (SAMU)"}


@router.get("/mes/patients/{ins}/historique", name="mes_page_history")
@page_route
async def history(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    mode = request.query_params.get("mode", "")
    who = request.query_params.get("qui", "").strip()[:100]
    before_text = request.query_params.get("avant", "")
    before = form_id(before_text, "avant") if before_text else None
    entries = await service.activity(session, actor=ctx.actor, ins=ins, limit=200, before=before)
    shown = [e for e in entries
             if (not mode or e.access_mode == mode)
             and (not who or who.lower() in f"{e.who_name} {e.who_rpps or ''}".lower())]
    return render(request, "history.html", base_context(
        request, ctx, "/historique", entries=shown, mode=mode, who=who, modes=ACCESS_MODES,
        next_before=entries[-1].id if len(entries) == 200 else None))


@router.get("/mes/patients/{ins}/notifications", name="mes_page_notifications")
@page_route
async def notifications(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    items = await service.notifications(session, settings=settings, actor=ctx.actor, ins=ins)
    current = await service.notification_settings(session, actor=ctx.actor, ins=ins)
    return render(request, "notifications.html", base_context(request, ctx, "/notifications", items=items,
                                                              settings=current))


@router.post("/mes/patients/{ins}/notifications/{action}", name="mes_page_notifications_action")
@page_route
async def notifications_action(request: Request, ins: str, action: str, session: SessionDep,
                               settings: SettingsDep) -> Response:
    form = await request.form()
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    if action == "lues":
        ids = [form_id(v, "id") for v in form.getlist("id")]
        await service.mark_notifications_read(session, actor=ctx.actor, ins=ins, ids=ids or None)
        return done(ins, "/notifications", "lues")
    if action == "courriel":
        email = field(form, "email", required=False, max_length=254)
        await service.set_notification_email(session, actor=ctx.actor, ins=ins, email=email or None)
        return done(ins, "/notifications", "courriel")
    raise MesInvalid(f"unknown notifications action {action}", rule="mes:form-action",
                     french="Cette action sur les notifications n'existe pas.")


router.include_router(pages_documents.router)
router.include_router(pages_messages.router)
