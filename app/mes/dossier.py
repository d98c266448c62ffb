"""The patient's DMP as a whole: its state (profile), closing and reopening it, objecting to its creation, and the
access controls (authorised and blocked professionals, emergency access) — through :mod:`app.dmp.service`, so a
change takes effect at once for every professional (FHIR and XDS.b apply the same :mod:`app.dmp.rules`).

Rules (reference/dmp.md §2.5, §2.7):
- Blocking a professional refuses them every access, feeding and break-glass included (TD02); the patient cannot
  block a médecin traitant DMP ("sauf le médecin traitant", §2.5): end that role with them first.
- Authorising gives a ``VALIDE`` authorisation (consultation); a blocked professional is unblocked first.
- Opposing break-glass or centre 15 access refuses those modes (``DMP:opt-out-*``); accepting lifts it.
- Objecting to the creation (§2.7: "unless the patient objects within 6 weeks"): only within 42 days of the
  DMP's creation and while no professional has filed a document; it closes the DMP with the reason
  ``opposition-creation`` (the profile then reads ``opposed``). Later, the patient closes it instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import as_utc, utcnow
from app.dmp import service as dmp_service
from app.mes import history
from app.mes.dmpview import dmp_call, record_of
from app.mes.exceptions import MesConflict, MesForbiddenAction, MesInvalid, MesNotFound
from app.mes.persons import Person, is_representative, patient_for
from app.mes.views import AccessSettings, ProfessionalEntry, Profile
from app.mss import service as mss_service
from app.psc import service as psc_service

CLOSURE_BY_PATIENT = "patient-demande"  # dmp-motif-fermeture (reference/dmp.md §2.7, PDSm4DMP TD02)
OPPOSITION = "opposition-creation"
OBJECTION_WINDOW = timedelta(weeks=6)
PROFESSIONS = {"10": "Médecin", "21": "Pharmacien", "26": "Audioprothésiste", "40": "Chirurgien-dentiste",
               "50": "Sage-femme", "60": "Infirmier", "69": "Infirmier psychiatrique", "70": "Masseur-kinésithérapeute",
               "80": "Pédicure-podologue", "91": "Orthophoniste"}


def state_of(record: Any) -> str:
    if record is None:
        return "none"
    if record.active:
        return "active"
    return "opposed" if record.closure_reason == OPPOSITION else "closed"


async def profile(session: AsyncSession, *, actor: Person, ins: str, settings: Settings | None = None) -> Profile:
    """With ``settings``, the notifications of the traces since the last look are made first (so the unread
    count is current, and their mails leave)."""
    patient = await patient_for(session, actor=actor, ins=ins)
    if settings is not None:
        await history.refresh(session, settings, ins=patient.ins)
    record = await dmp_service.get_record(session, ins=patient.ins)
    count = 0
    if record is not None:
        count = len(await dmp_service.patient_documents(session, record=record,
                                                        representative=is_representative(actor, patient)))
    unread = await history.unread_count(session, actor=actor, patient=patient)
    return Profile(
        person=patient, dmp_state=state_of(record), closed_at=None if record is None else record.closure_date,
        closure_reason=None if record is None else record.closure_reason,
        opt_out_bris_de_glace=bool(record and record.opt_out_bris_de_glace),
        opt_out_centre_15=bool(record and record.opt_out_centre_15), documents=count, unread_notifications=unread,
        represented_by_actor=is_representative(actor, patient))


async def close_profile(session: AsyncSession, *, actor: Person, ins: str, reason: str | None = None) -> Profile:
    """Close the DMP at the patient's request: every professional's access and feeding is refused until it is
    reopened (``DMP:closed``)."""
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    text = " ".join((reason or "").split())[:1024] or None
    await dmp_call(dmp_service.close_record, session, record=record, reason=CLOSURE_BY_PATIENT, text=text)
    # the patient's mailbox closes with the profile: MES bounces what professionals send (ENS MES v1.3)
    await mss_service.set_patient_mailbox_open(session, ins=patient.ins, open_=False)
    return await profile(session, actor=actor, ins=ins)


async def reopen_profile(session: AsyncSession, *, actor: Person, ins: str) -> Profile:
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    await dmp_call(dmp_service.reopen_record, session, record=record)
    await mss_service.set_patient_mailbox_open(session, ins=patient.ins, open_=True)
    return await profile(session, actor=actor, ins=ins)


async def object_to_creation(session: AsyncSession, *, actor: Person, ins: str) -> Profile:
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await dmp_service.get_record(session, ins=patient.ins)
    if record is None:
        raise MesNotFound("there is no profile to object to", rule="DMP:exists",
                          french="il n'y a pas de profil auquel s'opposer")
    if not record.active:
        raise MesConflict("the profile is already closed", rule="DMP:closed", french="le profil est déjà fermé")
    if utcnow() - as_utc(record.created_at) > OBJECTION_WINDOW:
        raise MesForbiddenAction("the 6 weeks to object to the profile's creation are over: close it instead",
                                 rule="MES:objection-window",
                                 french="les 6 semaines pour s'opposer à la création du profil sont passées : le "
                                        "fermer plutôt")
    # every document a professional (or the Assurance Maladie) filed counts, even one the patient cannot see
    # (INVISIBLE_PATIENT) or deleted since: the profile has been fed
    if await dmp_service.fed_by_others(session, record=record):
        raise MesForbiddenAction("professionals have already filed documents in this profile: close it instead",
                                 rule="MES:objection-fed",
                                 french="des professionnels ont déjà alimenté ce profil : le fermer plutôt")
    await dmp_call(dmp_service.close_record, session, record=record, reason=OPPOSITION,
                   text="opposition à la création du profil")
    await mss_service.set_patient_mailbox_open(session, ins=patient.ins, open_=False)
    return await profile(session, actor=actor, ins=ins)


async def _professionals(session: AsyncSession) -> dict[str, Any]:
    return {p.rpps: p for p in await psc_service.list_professionals(session) if p.rpps}


def _entry(rpps: str, known: dict[str, Any], *, status: str, medecin_traitant: bool, blocked: bool
           ) -> ProfessionalEntry:
    professional = known.get(rpps)
    name = f"{professional.given_name} {professional.family_name}".strip() if professional else ""
    profession = PROFESSIONS.get(professional.profession_code, professional.profession_code) if professional else ""
    return ProfessionalEntry(rpps=rpps, name=name, profession=profession, status=status,
                             medecin_traitant=medecin_traitant, blocked=blocked)


async def access_settings(session: AsyncSession, *, actor: Person, ins: str) -> AccessSettings:
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    known = await _professionals(session)
    blocked = set(await dmp_service.list_blocked(session, record=record))
    auths = await dmp_service.list_authorisations(session, record=record)
    entries = [_entry(a.rpps, known, status=a.status, medecin_traitant=a.medecin_traitant,
                      blocked=a.rpps in blocked) for a in auths]
    by_rpps = {a.rpps: a for a in auths}
    blocked_entries = [_entry(rpps, known, status=by_rpps[rpps].status if rpps in by_rpps else "NON_EXISTE",
                              medecin_traitant=bool(by_rpps[rpps].medecin_traitant) if rpps in by_rpps else False,
                              blocked=True) for rpps in sorted(blocked)]
    return AccessSettings(
        authorised=[e for e in entries if e.status == "VALIDE" and not e.blocked], blocked=blocked_entries,
        medecins_traitants=[e for e in entries if e.medecin_traitant],
        opt_out_bris_de_glace=record.opt_out_bris_de_glace, opt_out_centre_15=record.opt_out_centre_15)


def _rpps(rpps: str) -> str:
    value = (rpps or "").strip()
    if len(value) == 12 and value.startswith("8"):
        value = value[1:]  # an IDNPS (8 + RPPS) as PSC's SubjectNameID writes it
    if not (value.isascii() and value.isdigit() and len(value) == 11):
        raise MesInvalid(f"an RPPS is 11 digits, not {rpps[:32]!r}", rule="MES:rpps",
                         french=f"un RPPS s'écrit en 11 chiffres, pas {rpps[:32]!r}")
    return value


async def _known_professional(session: AsyncSession, rpps: str) -> str:
    value = _rpps(rpps)
    if value not in await _professionals(session):
        raise MesNotFound(f"no professional with RPPS {value} in the sandbox", rule="PSC:unknown-professional",
                          french=f"aucun professionnel de RPPS {value} dans le bac à sable")
    return value


async def authorise_professional(session: AsyncSession, *, actor: Person, ins: str, rpps: str) -> AccessSettings:
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    value = await _known_professional(session, rpps)
    current = {a.rpps: a for a in await dmp_service.list_authorisations(session, record=record)}.get(value)
    await dmp_service.set_blocked(session, record=record, rpps=value, blocked=False)
    await dmp_service.set_authorisation(session, record=record, rpps=value, status="VALIDE",
                                        medecin_traitant=bool(current and current.medecin_traitant))
    return await access_settings(session, actor=actor, ins=ins)


async def block_professional(session: AsyncSession, *, actor: Person, ins: str, rpps: str) -> AccessSettings:
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    value = await _known_professional(session, rpps)
    current = {a.rpps: a for a in await dmp_service.list_authorisations(session, record=record)}.get(value)
    if current is not None and current.medecin_traitant:
        raise MesForbiddenAction(f"professional RPPS {value} is your médecin traitant DMP, whom you cannot block "
                                 "(reference/dmp.md §2.5)", rule="MES:block-medecin-traitant",
                                 french=f"le professionnel RPPS {value} est votre médecin traitant DMP, que vous ne "
                                        "pouvez pas bloquer")
    await dmp_service.set_blocked(session, record=record, rpps=value, blocked=True)
    return await access_settings(session, actor=actor, ins=ins)


async def unblock_professional(session: AsyncSession, *, actor: Person, ins: str, rpps: str) -> AccessSettings:
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    value = _rpps(rpps)
    if value not in set(await dmp_service.list_blocked(session, record=record)):
        raise MesNotFound(f"professional RPPS {value} is not blocked", rule="MES:not-blocked",
                          french=f"le professionnel RPPS {value} n'est pas bloqué")
    await dmp_service.set_blocked(session, record=record, rpps=value, blocked=False)
    return await access_settings(session, actor=actor, ins=ins)


async def set_emergency_access(session: AsyncSession, *, actor: Person, ins: str, bris_de_glace: bool | None = None,
                               centre_15: bool | None = None) -> AccessSettings:
    """``bris_de_glace`` / ``centre_15``: True accepts that access, False opposes it, None leaves it."""
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    await dmp_service.set_opt_outs(session, record=record,
                                   bris_de_glace=None if bris_de_glace is None else not bris_de_glace,
                                   centre_15=None if centre_15 is None else not centre_15)
    return await access_settings(session, actor=actor, ins=ins)
