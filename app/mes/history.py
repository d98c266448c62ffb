"""The activity history (every DMP access or action by someone other than the patient, from the DMP's traces,
SOAP and FHIR alike) and the notifications made from it (new documents, break-glass and centre 15 accesses)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.mes.persons import Person
from app.mes.views import Activity, Notification, NotificationSettings


async def activity(session: AsyncSession, *, actor: Person, ins: str, limit: int = 50, before: int | None = None
                   ) -> list[Activity]:
    """Newest first; ``before`` is the id of the last entry of the previous page."""
    raise NotImplementedError


async def notifications(session: AsyncSession, *, settings: Settings, actor: Person, ins: str,
                        unread_only: bool = False) -> list[Notification]:
    raise NotImplementedError


async def mark_notifications_read(session: AsyncSession, *, actor: Person, ins: str,
                                  ids: list[int] | None = None) -> int:
    """Mark these notifications (all, when None) read; how many changed."""
    raise NotImplementedError


async def notification_settings(session: AsyncSession, *, actor: Person, ins: str) -> NotificationSettings:
    raise NotImplementedError


async def set_notification_email(session: AsyncSession, *, actor: Person, ins: str, email: str | None
                                 ) -> NotificationSettings:
    raise NotImplementedError
