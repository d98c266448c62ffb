"""The patient's DMP as a whole: its state (profile), closing and reopening it, objecting to its creation, and the
access controls (authorised and blocked professionals, emergency access) — through :mod:`app.dmp.service`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.mes.persons import Person
from app.mes.views import AccessSettings, Profile


async def profile(session: AsyncSession, *, actor: Person, ins: str) -> Profile:
    raise NotImplementedError


async def close_profile(session: AsyncSession, *, actor: Person, ins: str, reason: str | None = None) -> Profile:
    raise NotImplementedError


async def reopen_profile(session: AsyncSession, *, actor: Person, ins: str) -> Profile:
    raise NotImplementedError


async def object_to_creation(session: AsyncSession, *, actor: Person, ins: str) -> Profile:
    raise NotImplementedError


async def access_settings(session: AsyncSession, *, actor: Person, ins: str) -> AccessSettings:
    raise NotImplementedError


async def authorise_professional(session: AsyncSession, *, actor: Person, ins: str, rpps: str) -> AccessSettings:
    raise NotImplementedError


async def block_professional(session: AsyncSession, *, actor: Person, ins: str, rpps: str) -> AccessSettings:
    raise NotImplementedError


async def unblock_professional(session: AsyncSession, *, actor: Person, ins: str, rpps: str) -> AccessSettings:
    raise NotImplementedError


async def set_emergency_access(session: AsyncSession, *, actor: Person, ins: str, bris_de_glace: bool | None = None,
                               centre_15: bool | None = None) -> AccessSettings:
    """``bris_de_glace`` / ``centre_15``: True accepts that access, False opposes it, None leaves it."""
    raise NotImplementedError
