"""The activity history (every DMP access or action by someone other than the patient, from the DMP's traces,
SOAP and FHIR alike) and the notifications made from it (new documents filed by a professional, break-glass and
centre 15 accesses), with an optional mail through the sandbox's own MSSanté store (reference/dmp.md §2.6:
"every action by anyone other than the holder appears in the activity history and is notified by e-mail").

The hook, and why: notifications are **computed from the DMP's traces since a per-patient cursor**
(``mes_notification_setting.audit_cursor``), when the patient side reads them (the inbox, the profile's unread
count, ``POST /sandbox/v1/mes/notifications/dispatch`` for a harness that wants the mails now). Every professional
access already writes its trace in its own transaction (ITI-65/41 feeds, ITI-67/18 searches, ITI-68/43
retrievals, refusals included), so nothing is added to the professional's hot path (the ITI-65 path is
benchmarked), no notification can be missed (the cursor moves only in the transaction that stores them, the
unique ``(ins, source)`` makes a concurrent second pass a no-op), and the cost is paid by the patient, once per
trace. The price: a mail leaves when the patient side (or a harness) next looks, not at the instant of access.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.dmp import service as dmp_service
from app.mes.exceptions import MesInvalid, MesNotFound
from app.mes.models import MesNotification, MesNotificationSetting
from app.mes.persons import Person, find_person, is_representative, patient_for
from app.mes.views import Activity, Notification, NotificationSettings
from app.mss import service as mss_service
from app.tenancy import current_tenant

NOTIFICATION_SENDER = "notifications@monespacesante.sandbox.mssante.fr"
FEEDS = {"ITI-65", "ITI-105", "ITI-41"}
BATCH = 500
RL_SUFFIX = ":rl"  # the source's tail of a notification of documents hidden from the legal representatives

# What each DMP transaction is, in the patient's words (reference/dmp.md §1-§2: PDSm, XDS.b, TD).
TRANSACTIONS = {
    "ITI-65": "Ajout de documents (FHIR)", "ITI-105": "Ajout d'un document (FHIR, publication simplifiée)",
    "ITI-41": "Ajout de documents (XDS.b)", "ITI-67": "Recherche dans la liste des documents (FHIR)",
    "ITI-18": "Recherche dans la liste des documents (XDS.b)", "ITI-66": "Recherche des lots de documents (FHIR)",
    "ITI-68": "Lecture d'un document (FHIR)", "ITI-43": "Lecture de documents (XDS.b)",
    "READ": "Consultation de la fiche d'un document (FHIR)", "PATCH": "Modification d'un document (FHIR)",
    "ITI-57": "Modification d'un document (XDS.b)", "TD0.2": "Consultation de l'état du DMP (XDS.b)",
    "TD02": "Consultation de l'état du DMP (FHIR)", "TD1.1": "Création du DMP (XDS.b)",
}
MODES = {"normal": "accès normal", "bris_de_glace": "bris de glace (urgence)",
         "centre_15": "centre de régulation (SAMU - centre 15)"}


def transaction_label(transaction: str, action: str) -> str:
    if transaction in TRANSACTIONS:
        return TRANSACTIONS[transaction]
    return {"C": "Ajout", "R": "Lecture", "U": "Modification", "D": "Suppression", "E": "Recherche"}.get(
        action, "Accès") + f" ({transaction})"


async def activity(session: AsyncSession, *, actor: Person, ins: str, limit: int = 50, before: int | None = None
                   ) -> list[Activity]:
    """Newest first; ``before`` is the id of the last entry of the previous page."""
    patient = await patient_for(session, actor=actor, ins=ins)
    limit = max(1, min(limit, 200))
    events = await dmp_service.audit_events(session, ins=patient.ins, limit=limit, before_id=before)
    # only the documents this reader may know of: neither their ids nor their titles otherwise (dmp.md §2.4)
    titles = await dmp_service.patient_document_titles(session, [i for e in events for i in e.document_ids or []],
                                                       representative=is_representative(actor, patient))
    out = []
    for event in events:
        ids = [i for i in event.document_ids or [] if i in titles]
        out.append(Activity(
            id=event.id, at=event.recorded, who_name=event.agent_name or (f"RPPS {event.agent_rpps}"
                                                                            if event.agent_rpps else "inconnu"),
            who_rpps=event.agent_rpps, client_id=event.client_id, transaction=event.transaction,
            what=transaction_label(event.transaction, event.action), action=event.action,
            access_mode=event.access_mode, access_mode_label=MODES.get(event.access_mode, event.access_mode),
            reason=event.access_reason, outcome="success" if event.outcome == "0" else "refused",
            outcome_text=event.outcome_text, document_ids=ids,
            document_titles=[titles[i][0] for i in ids]))
    return out


# --- notifications ----------------------------------------------------------------------------------------------

async def _setting(session: AsyncSession, ins: str) -> MesNotificationSetting:
    row = await session.get(MesNotificationSetting, (current_tenant(), ins))
    if row is None:
        assert session.bind is not None
        dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
        await session.execute(dialect.insert(MesNotificationSetting).values(
            ins=ins, email=None, audit_cursor=0, updated_at=utcnow()).on_conflict_do_nothing(
            index_elements=[MesNotificationSetting.tenant, MesNotificationSetting.ins]))
        row = await session.get(MesNotificationSetting, (current_tenant(), ins))
        assert row is not None
    return row


def _made_from(event: Any, titles: dict[str, tuple[str, str]], for_representatives: dict[str, tuple[str, str]]
               ) -> list[tuple[str, str, str, str, list[str]]]:
    """(source, kind, title, body, document ids) of the notifications a trace makes. ``titles`` are the documents
    the patient may know of, ``for_representatives`` those the legal representatives may (reference/dmp.md §2.4):
    a document hidden from the patient (``INVISIBLE_PATIENT``) makes no notification at all, and the new documents
    hidden from the representatives only (``INVISIBLE_REPRESENTANTS_LEGAUX``) make a notification of their own
    (source ``audit:<id>:rl``), which :func:`notifications` never shows a representative."""
    source = f"audit:{event.id}"
    who = event.agent_name or (f"RPPS {event.agent_rpps}" if event.agent_rpps else "un professionnel")
    when = event.recorded.strftime("%d/%m/%Y %H:%M UTC")
    if event.access_mode in ("bris_de_glace", "centre_15"):
        mode = MODES[event.access_mode]
        done = "a accédé" if event.outcome == "0" else "a tenté d'accéder (refusé)"
        reason = f" Motif : {event.access_reason}." if event.access_reason else ""
        return [(source, event.access_mode, f"Accès en {mode} à votre profil",
                 f"{who} {done} à votre dossier médical en mode {mode} le {when} "
                 f"({transaction_label(event.transaction, event.action)}).{reason}",
                 [i for i in event.document_ids or [] if i in titles])]
    if event.transaction in FEEDS and event.action == "C" and event.outcome == "0":
        new = [i for i in event.document_ids or [] if i in titles and titles[i][1] == "Approved"]
        out = []
        for suffix, group in (("", [i for i in new if i in for_representatives]),
                              (RL_SUFFIX, [i for i in new if i not in for_representatives])):
            if group:
                names = ", ".join(f"« {titles[i][0]} »" for i in group)
                plural = "x documents" if len(group) > 1 else "u document"
                out.append((source + suffix, "new_document", f"Nouvea{plural} dans votre profil",
                            f"{who} a ajouté {names} à votre dossier médical le {when}.", group))
        return out
    return []


async def refresh(session: AsyncSession, settings: Settings, *, ins: str) -> int:
    """Make the notifications of the traces written since the patient's cursor (mailing each when an address is
    set); how many were made."""
    setting = await _setting(session, ins)
    made = 0
    while True:
        events = await dmp_service.audit_events(session, ins=ins, limit=BATCH, after_id=setting.audit_cursor)
        if not events:
            break
        named = [i for e in events for i in e.document_ids or []]
        titles = await dmp_service.patient_document_titles(session, named, representative=False)
        for_representatives = await dmp_service.patient_document_titles(session, named, representative=True)
        made_from = [(event, found) for event in events for found in _made_from(event, titles, for_representatives)]
        for event, (source, kind, title, body, ids) in made_from:
            exists = (await session.execute(select(MesNotification.id).where(
                MesNotification.ins == ins, MesNotification.source == source))).first()
            if exists is not None:
                continue
            row = MesNotification(ins=ins, kind=kind, source=source, title=title[:512], body=body[:2048],
                                  document_ids=ids, occurred_at=event.recorded, created_at=utcnow(), read_at=None,
                                  mailed_to=None)
            session.add(row)
            if setting.email:
                # the address may be read by a representative too: a document hidden from them is not named
                mailed = body if not source.endswith(RL_SUFFIX) else (
                    f"Un professionnel a ajouté à votre dossier médical un document que vos représentants légaux "
                    f"ne voient pas, le {event.recorded.strftime('%d/%m/%Y %H:%M UTC')}.")
                await _mail(session, settings, to=setting.email, subject=title, body=mailed)
                row.mailed_to = setting.email
            made += 1
        cursor = events[-1].id
        moved = await session.execute(update(MesNotificationSetting).where(
            MesNotificationSetting.ins == ins, MesNotificationSetting.audit_cursor == setting.audit_cursor)
            .values(audit_cursor=cursor))
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            break  # another request moved it meanwhile: it made these notifications
        setting.audit_cursor = cursor
        if len(events) < BATCH:
            break
    await session.flush()
    return made


async def _mail(session: AsyncSession, settings: Settings, *, to: str, subject: str, body: str) -> None:
    """A notification mail into the sandbox's own MSSanté store, as an operator delivers one."""
    message = EmailMessage()
    message["From"] = f"Mon espace santé <{NOTIFICATION_SENDER}>"
    message["To"] = to
    message["Subject"] = f"Mon espace santé : {subject}"
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="monespacesante.sandbox.mssante.fr")
    message.set_content(f"{body}\n\nRetrouvez le détail dans l'historique d'activité de votre profil Mon espace "
                        "santé.\n\n-- \nMessage automatique du bac à sable Ségur : ne pas répondre.\n")
    raw = message.as_bytes()
    envelope = mss_service.Envelope(mail_from=NOTIFICATION_SENDER, recipients=[(to, "NEVER")], transport="mes")
    analysis = await mss_service.analyse(session, settings, raw, envelope)
    await mss_service.store(session, settings, raw, envelope, analysis)


async def dispatch(session: AsyncSession, settings: Settings, *, ins: str | None = None) -> int:
    """Make (and mail) the pending notifications of one patient, or of every patient with a DMP: what a harness
    calls when it wants the mails now rather than at the patient's next look."""
    if ins is not None:
        person = await find_person(session, ins=ins)
        if person is None:
            raise MesNotFound(f"INS {ins[:20]!r} is not a person of the national base", rule="INS:unknown")
        return await refresh(session, settings, ins=person.ins)
    made = 0
    for record in await dmp_service.list_records(session):
        made += await refresh(session, settings, ins=record.ins)
    return made


def _view(row: MesNotification, known: dict[str, tuple[str, str]]) -> Notification:
    return Notification(id=row.id, kind=row.kind, title=row.title, body=row.body, occurred_at=row.occurred_at,
                        read=row.read_at is not None, mailed_to=row.mailed_to,
                        document_ids=[i for i in row.document_ids if i in known])


async def _readable(session: AsyncSession, rows: Any, *, representative: bool
                    ) -> list[tuple[MesNotification, dict[str, tuple[str, str]]]]:
    """The notifications this reader may read, with the documents it may know of, by the documents' labels now
    (reference/dmp.md §2.4): the minor and their representatives share the notifications, and a notification
    naming a document hidden from the reader (made hidden since, or a ``:rl`` one) is not theirs."""
    rows = list(rows)
    known = await dmp_service.patient_document_titles(session, [i for r in rows for i in r.document_ids or []],
                                                      representative=representative)
    return [(row, known) for row in rows
            if not (row.kind == "new_document" and (any(i not in known for i in row.document_ids or [])
                                                    or (representative and row.source.endswith(RL_SUFFIX))))]


async def notifications(session: AsyncSession, *, settings: Settings, actor: Person, ins: str,
                        unread_only: bool = False, limit: int = 100) -> list[Notification]:
    """Newest first (the traces since the last look made into notifications first)."""
    patient = await patient_for(session, actor=actor, ins=ins)
    await refresh(session, settings, ins=patient.ins)
    query = select(MesNotification).where(MesNotification.ins == patient.ins)
    if unread_only:
        query = query.where(MesNotification.read_at.is_(None))
    rows = (await session.execute(query.order_by(MesNotification.id.desc()).limit(max(1, min(limit, 500))))
            ).scalars().all()
    return [_view(row, known) for row, known in await _readable(
        session, rows, representative=is_representative(actor, patient))]


async def unread_count(session: AsyncSession, *, actor: Person, patient: Person) -> int:
    rows = (await session.execute(select(MesNotification).where(
        MesNotification.ins == patient.ins, MesNotification.read_at.is_(None)))).scalars().all()
    return len(await _readable(session, rows, representative=is_representative(actor, patient)))


async def mark_notifications_read(session: AsyncSession, *, actor: Person, ins: str,
                                  ids: list[int] | None = None) -> int:
    """Mark these notifications (all, when None) read; how many changed. Only those the reader may read."""
    patient = await patient_for(session, actor=actor, ins=ins)
    query = select(MesNotification).where(MesNotification.ins == patient.ins, MesNotification.read_at.is_(None))
    if ids is not None:
        query = query.where(MesNotification.id.in_(ids[:1000]))
    rows = (await session.execute(query)).scalars().all()
    readable = [row.id for row, _ in await _readable(session, rows, representative=is_representative(actor, patient))]
    if not readable:
        return 0
    result = await session.execute(update(MesNotification).where(
        MesNotification.id.in_(readable), MesNotification.read_at.is_(None)).values(read_at=utcnow()))
    await session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def notification_settings(session: AsyncSession, *, actor: Person, ins: str) -> NotificationSettings:
    patient = await patient_for(session, actor=actor, ins=ins)
    row = await session.get(MesNotificationSetting, (current_tenant(), patient.ins))
    return NotificationSettings(email=row.email if row else None)


async def set_notification_email(session: AsyncSession, *, actor: Person, ins: str, email: str | None
                                 ) -> NotificationSettings:
    """The address each notification is also mailed to (None: no mail). It must be the patient's own patient mailbox
    ``<INS>@patient.mssante.fr`` in the sandbox's MSSanté store (the sandbox mails nothing outside itself; a
    professional's mailbox, or another patient's, a representative's included, would receive what the DMP tells
    this patient alone: reference/dmp.md §2.4, §2.6; docs/mes.md)."""
    patient = await patient_for(session, actor=actor, ins=ins)
    address = (email or "").strip() or None
    if address is not None:
        mailbox = await mss_service.get_mailbox(session, address) if len(address) <= 320 else None
        if (mailbox is None or not mailbox.active or mailbox.type != mss_service.PATIENT
                or (mailbox.patient_ins or "").upper() != patient.ins.upper()):
            raise MesInvalid(f"{address[:320]} is not this patient's own mailbox: notifications are mailed only to "
                             f"the patient mailbox of the sandbox's MSSanté store ({patient.ins}@patient.mssante.fr)",
                             rule="MES:notification-mailbox", unprocessable=True,
                             french=f"{address[:320]} n'est pas la messagerie de ce patient : les notifications ne "
                                    "sont envoyées qu'à sa messagerie Mon espace santé du bac à sable "
                                    f"({patient.ins}@patient.mssante.fr)")
        address = mailbox.address
    setting = await _setting(session, patient.ins)
    setting.email = address
    setting.updated_at = utcnow()
    await session.flush()
    return NotificationSettings(email=address)

