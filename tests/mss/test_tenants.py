"""Tenants over SMTP, IMAP and the HTTP faces of MSSanté (issue 15): a login ``<tenant>/<login>`` selects the
tenant for the rest of the connection, driven with smtplib and imaplib as a vendor's software would.

Two tenants seeded with the fixtures hold the same addresses; every test runs a flow in both, interleaved,
and checks each sees only its own messages (over IMAP, the HTTP control API under ``/t/{tenant}``, the
journal and the store), that an unknown tenant is the protocol's authentication failure, and that a
tenant's reset or deletion leaves the other alone."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import imaplib
import smtplib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.mss import changes
from app.mss.models import MssDelivery, MssDomain, MssFolder, MssMailbox, MssMessage
from app.tenancy import ALL_TENANTS, use_tenant
from tests.conftest import BASE_URL
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message
from tests.mss.imap.server_helpers import command, tls_context

A, B = "mss-a", "mss-b"
SENDER = f"Dr Claire FONTAINE <{DOCTOR}>"


@pytest.fixture
async def tenants(app, client) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """Tenants A and B, seeded with the fixtures (the same mailboxes as the default tenant); deleted after."""
    for name in (A, B):
        await client.delete(f"/sandbox/v1/tenants/{name}")  # a previous run's, if it failed half-way
        created = await client.post("/sandbox/v1/tenants", json={"name": name, "seed": "fixtures"})
        assert created.status_code == 201, created.text
        assert created.json()["mail_login_prefix"] == f"{name}/"
    yield
    for name in (A, B):
        await client.delete(f"/sandbox/v1/tenants/{name}")


@contextlib.asynccontextmanager
async def http_in(app: Any, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose base URL is the tenant's (``/t/{tenant}``)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"{BASE_URL}/t/{tenant}") as http:
        yield http


def login_of(tenant: str | None, address: str = DOCTOR) -> str:
    return address if tenant is None else f"{tenant}/{address}"


@contextlib.contextmanager
def smtp_session(app: Any, tenant: str | None, address: str = DOCTOR) -> Iterator[smtplib.SMTP]:
    """A STARTTLS'd smtplib connection logged in (AUTH PLAIN) as ``<tenant>/<address>``; blocking."""
    with smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20) as smtp:
        smtp.ehlo("lps.test")
        smtp.starttls(context=tls_context(app))
        smtp.ehlo("lps.test")
        smtp.login(login_of(tenant, address), PASSWORD)
        yield smtp


def imap_session(app: Any, tenant: str | None, address: str = HOSPITAL_DOCTOR) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", app.state.imap_port, timeout=20)
    imap.starttls(ssl_context=tls_context(app))
    imap.login(login_of(tenant, address), PASSWORD)
    return imap


def subjects(imap: imaplib.IMAP4, folder: str = "INBOX") -> set[str]:
    """The subjects of the folder's messages, as an IMAP client reads them."""
    status, _ = imap.select(folder)
    assert status == "OK"
    status, data = imap.uid("SEARCH", "ALL")
    assert status == "OK"
    uids = data[0].split()
    if not uids:
        return set()
    status, fetched = imap.uid("FETCH", b",".join(uids).decode(), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert status == "OK"
    found = set()
    for item in fetched:
        if isinstance(item, tuple):
            header = item[1].decode().strip()
            if header.lower().startswith("subject:"):
                found.add(header.split(":", 1)[1].strip())
    return found


def message(subject: str) -> bytes:
    return build_message(sender=SENDER, to=HOSPITAL_DOCTOR, subject=subject)


async def http_subjects(app: Any, tenant: str | None, address: str = HOSPITAL_DOCTOR) -> set[str]:
    """The subjects the control API lists for the mailbox, in ``tenant`` (None: the default one)."""
    base = BASE_URL if tenant is None else f"{BASE_URL}/t/{tenant}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http:
        response = await http.get(f"/sandbox/v1/mailboxes/{address}/messages", params={"limit": 500})
    assert response.status_code == 200, response.text
    return {item["subject"] for item in response.json()["items"]}


async def stored_tenants(app: Any, tag: str) -> set[tuple[str, str, str]]:
    """(subject, message's tenant, delivery's tenant) of the stored messages whose subject holds ``tag``,
    read across tenants."""
    async with app.state.sessionmaker() as db:
        rows = await db.execute(
            select(MssMessage.subject, MssMessage.tenant, MssDelivery.tenant)
            .join(MssDelivery, MssDelivery.message_id == MssMessage.id)
            .where(MssMessage.subject.contains(tag)), execution_options={ALL_TENANTS: True})
        return {tuple(row) for row in rows.all()}  # type: ignore[misc]


async def journal(app: Any, tenant: str | None, **params: Any) -> list[dict[str, Any]]:
    base = BASE_URL if tenant is None else f"{BASE_URL}/t/{tenant}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http:
        response = await http.get("/sandbox/v1/journal", params={"service": "mss", "limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["entries"]


async def settle_journal(app: Any) -> None:
    """The SMTP SESSION entry is made by a task once the server sees the connection lost (the journal's
    read flushes what is buffered)."""
    await asyncio.sleep(0.3)


async def test_one_login_per_tenant_each_sees_only_its_own_mail(app, client, tenants):
    """Two pipelines interleaved: connections to A and to B open side by side, sends alternating; IMAP and HTTP
    in each tenant see its messages only (the same address is a mailbox in each), the default tenant none;
    the rows carry their tenant (the SMTP one-statement store included); each tenant's journal has its own
    SMTP entries."""
    tag = uuid.uuid4().hex[:8]

    def pipelines() -> tuple[set[str], set[str], set[str]]:
        with smtp_session(app, A) as in_a, smtp_session(app, B) as in_b:
            for number in range(3):
                assert in_a.sendmail(DOCTOR, [HOSPITAL_DOCTOR], message(f"A{number} {tag}")) == {}
                assert in_b.sendmail(DOCTOR, [HOSPITAL_DOCTOR], message(f"B{number} {tag}")) == {}
        read_a, read_b, read_default = (imap_session(app, A), imap_session(app, B), imap_session(app, None))
        try:
            return subjects(read_a), subjects(read_b), subjects(read_default)
        finally:
            for imap in (read_a, read_b, read_default):
                imap.logout()

    seen_a, seen_b, seen_default = await asyncio.to_thread(pipelines)
    assert {s for s in seen_a if tag in s} == {f"A{n} {tag}" for n in range(3)}
    assert {s for s in seen_b if tag in s} == {f"B{n} {tag}" for n in range(3)}
    assert not {s for s in seen_default if tag in s}

    assert {s for s in await http_subjects(app, A) if tag in s} == {f"A{n} {tag}" for n in range(3)}
    assert {s for s in await http_subjects(app, B) if tag in s} == {f"B{n} {tag}" for n in range(3)}
    assert not {s for s in await http_subjects(app, None) if tag in s}

    stored = await stored_tenants(app, tag)
    assert stored == {(f"{x}{n} {tag}", t, t) for x, t in (("A", A), ("B", B)) for n in range(3)}

    await settle_journal(app)
    for tenant in (A, B):
        entries = await journal(app, tenant, protocol="smtp")
        data = [e for e in entries if e["operation"] == "mss.smtp.data" and e["outcome"] == "ok"]
        assert len(data) == 3, entries
        assert any(e["operation"] == "mss.smtp.session" for e in entries), entries
    assert not [e for e in await journal(app, None, protocol="smtp") if e["operation"] == "mss.smtp.data"]


async def test_a_message_sent_in_one_tenant_never_wakes_nor_shows_in_the_other(app, client, tenants):
    """An IMAP session of B with INBOX selected: a delivery in A to the same address shows nothing at NOOP;
    one in B shows as EXISTS."""
    tag = uuid.uuid4().hex[:8]

    def flow() -> tuple[list[bytes], list[bytes]]:
        watcher = imap_session(app, B)
        try:
            watcher.select("INBOX")
            with smtp_session(app, A) as in_a:
                in_a.sendmail(DOCTOR, [HOSPITAL_DOCTOR], message(f"to A {tag}"))
            after_a = command(watcher, "NOOP")
            with smtp_session(app, B) as in_b:
                in_b.sendmail(DOCTOR, [HOSPITAL_DOCTOR], message(f"to B {tag}"))
            after_b = command(watcher, "NOOP")
            return after_a, after_b
        finally:
            watcher.logout()

    after_a, after_b = await asyncio.to_thread(flow)
    assert not [line for line in after_a if line.endswith(b" EXISTS")], after_a
    assert [line for line in after_b if line.endswith(b" EXISTS")], after_b


def test_change_announcements_are_keyed_by_tenant() -> None:
    """Pure: the same address subscribed in two tenants and the default one is three mailboxes; a tenant's
    reset wakes only its own."""
    hub = changes.MailboxChanges()
    in_a, in_b, default = hub.subscribe(DOCTOR, A), hub.subscribe(DOCTOR, B), hub.subscribe(DOCTOR)
    with use_tenant(A):
        key = changes.mailbox_key(DOCTOR.upper())
    assert key == f"{A} {DOCTOR}" and changes.tenant_of_key(key) == A and changes.mailbox_key(DOCTOR) == DOCTOR
    hub.announce(key)
    assert (in_a.qsize(), in_b.qsize(), default.qsize()) == (1, 0, 0)
    in_a.get_nowait()
    hub.announce_tenant(B)
    assert (in_a.qsize(), in_b.qsize(), default.qsize()) == (0, 1, 0)
    hub.announce_tenant(changes.reset_tenant(""))
    assert default.qsize() == 1


async def test_unknown_tenant_is_refused_as_a_wrong_password(app, client, tenants):
    """SMTP ``535 5.7.8`` and IMAP ``NO [AUTHENTICATIONFAILED]``, word for word as a wrong password: nothing
    tells a tenant that does not exist from a bad credential."""

    def smtp_reply(login: str, password: str) -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20) as smtp:
            smtp.ehlo("lps.test")
            smtp.starttls(context=tls_context(app))
            smtp.ehlo("lps.test")
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                smtp.login(login, password)
            return refused.value.smtp_code, refused.value.smtp_error

    def imap_reply(login: str, password: str) -> bytes:
        imap = imaplib.IMAP4("127.0.0.1", app.state.imap_port, timeout=20)
        try:
            imap.starttls(ssl_context=tls_context(app))
            with pytest.raises(imaplib.IMAP4.error) as refused:
                imap.login(login, password)
            return str(refused.value).encode()
        finally:
            imap.shutdown()

    def work() -> list[Any]:
        return [smtp_reply(f"nosuch/{DOCTOR}", PASSWORD), smtp_reply(f"{A}/{DOCTOR}", "wrong"),
                imap_reply(f"nosuch/{DOCTOR}", PASSWORD), imap_reply(f"{A}/{DOCTOR}", "wrong")]

    unknown_smtp, wrong_smtp, unknown_imap, wrong_imap = await asyncio.to_thread(work)
    assert unknown_smtp[0] == 535 and unknown_smtp[1].startswith(b"5.7.8")
    assert unknown_smtp == wrong_smtp
    assert b"[AUTHENTICATIONFAILED]" in unknown_imap and unknown_imap == wrong_imap
    await settle_journal(app)
    refusals = [e for e in await journal(app, None, operation="mss.smtp.auth")]
    assert any(e["rule"] == "MSS:auth.tenant" for e in refusals), refusals
    in_a = await journal(app, A, operation="mss.smtp.auth")
    assert any(e["rule"] == "MSS:auth.password" for e in in_a), in_a


async def test_a_mailbox_and_its_password_exist_only_in_their_tenant(app, client, tenants):
    """A mailbox created in A (its own password) logs in as ``A/<address>`` and is refused as
    ``B/<address>`` and as ``<address>`` (the default tenant)."""
    address = f"secretariat-{uuid.uuid4().hex[:6]}@hopital-a.mssante.fr"
    async with http_in(app, A) as http:
        created = await http.post("/sandbox/v1/mailboxes", json={
            "address": address, "type": "ORG", "display_name": "Secrétariat", "password": "only-in-a"})
    assert created.status_code == 201, created.text

    def codes() -> list[int]:
        found = []
        for tenant in (A, B, None):
            with smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20) as smtp:
                smtp.ehlo("lps.test")
                smtp.starttls(context=tls_context(app))
                smtp.ehlo("lps.test")
                try:
                    found.append(smtp.login(login_of(tenant, address), "only-in-a")[0])
                except smtplib.SMTPAuthenticationError as exc:
                    found.append(exc.smtp_code)
        return found

    assert await asyncio.to_thread(codes) == [235, 535, 535]


async def test_scripted_faults_are_the_tenants(app, client, tenants):
    """A fault scripted in A for a recipient fires over A's SMTP login, never over B's (the same address)."""
    async with http_in(app, A) as http:
        scripted = await http.post(f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/faults",
                                   json={"stage": "RCPT", "reply": "452 4.2.2 Mailbox full", "count": 5})
    assert scripted.status_code == 201, scripted.text

    def send() -> tuple[int, int]:
        codes = []
        for tenant in (B, A):
            with smtp_session(app, tenant) as smtp:
                smtp.mail(DOCTOR)
                codes.append(smtp.rcpt(HOSPITAL_DOCTOR)[0])
        return codes[0], codes[1]

    in_b, in_a = await asyncio.to_thread(send)
    assert (in_b, in_a) == (250, 452)


async def test_reset_and_deletion_of_a_leave_b_alone(app, client, tenants):
    """A's reset empties A's mailbox (its IMAP session ends) and leaves B's mail and IMAP session; deleting A
    removes every MSSanté row of A (and its logins), B's untouched."""
    tag = uuid.uuid4().hex[:8]

    def send_both() -> None:
        for tenant in (A, B):
            with smtp_session(app, tenant) as smtp:
                smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], message(f"{tenant} {tag}"))

    await asyncio.to_thread(send_both)
    sessions = await asyncio.to_thread(lambda: (imap_session(app, A), imap_session(app, B)))
    session_a, session_b = sessions
    try:
        await asyncio.to_thread(session_a.select, "INBOX")
        await asyncio.to_thread(session_b.select, "INBOX")
        async with http_in(app, A) as http:
            assert (await http.post("/sandbox/v1/reset")).status_code == 200
        assert not {s for s in await http_subjects(app, A) if tag in s}
        assert {s for s in await http_subjects(app, B) if tag in s} == {f"{B} {tag}"}
        assert f"{B} {tag}" in await asyncio.to_thread(subjects, session_b)  # B's session goes on

        def ended(imap: imaplib.IMAP4) -> bool:
            try:
                imap.noop()
            except (imaplib.IMAP4.abort, OSError):
                return True
            return False

        assert await asyncio.to_thread(ended, session_a)  # A's mailbox is gone as it was: BYE
    finally:
        for imap in sessions:
            with contextlib.suppress(Exception):
                imap.logout()

    await asyncio.to_thread(send_both)
    deleted = await client.delete(f"/sandbox/v1/tenants/{A}")
    assert deleted.status_code == 200, deleted.text
    async with app.state.sessionmaker() as db:
        for tenant, expected in ((A, False), (B, True)):
            with use_tenant(tenant):
                for model in (MssDomain, MssMailbox, MssMessage, MssDelivery, MssFolder):
                    count = await db.scalar(select(func.count()).select_from(model))
                    assert bool(count) is expected, (tenant, model.__tablename__, count)
    assert {s for s in await http_subjects(app, B) if tag in s} == {f"{B} {tag}"}

    def login_after_deletion() -> tuple[int, bool]:
        with smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20) as smtp:
            smtp.ehlo("lps.test")
            smtp.starttls(context=tls_context(app))
            smtp.ehlo("lps.test")
            try:
                code = smtp.login(login_of(A), PASSWORD)[0]
            except smtplib.SMTPAuthenticationError as exc:
                code = exc.smtp_code
        try:
            imap_session(app, A).logout()
        except imaplib.IMAP4.error:
            return code, True
        return code, False

    assert await asyncio.to_thread(login_after_deletion) == (535, True)


async def test_psc_token_of_one_tenant_refused_in_the_other(app, client, tenants):
    """XOAUTH2 over SMTP: a PSC access token issued by A's issuer (``/t/A/auth/...``) logs in as
    ``A/<address>``, and is refused (535) as ``B/<address>``."""
    from tests.psc.helpers import access_token_for

    async with http_in(app, A) as http:
        token = await access_token_for(http, DOCTOR_SNI)

    def auth(tenant: str) -> int:
        sasl = f"user={tenant}/{DOCTOR}\x01auth=Bearer {token}\x01\x01"
        with smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20) as smtp:
            smtp.ehlo("lps.test")
            smtp.starttls(context=tls_context(app))
            smtp.ehlo("lps.test")
            code, _ = smtp.docmd("AUTH", "XOAUTH2 " + base64.b64encode(sasl.encode()).decode())
            if code == 334:
                code, _ = smtp.docmd("")
            return code

    assert await asyncio.to_thread(auth, A) == 235
    assert await asyncio.to_thread(auth, B) == 535


async def test_http_faces_speak_of_the_tenant(app, client, tenants):
    """Under ``/t/{tenant}``: the autoconfiguration's user name is the tenant's login, the Annuaire's links and
    ``fullUrl``s stay in the tenant."""
    async with http_in(app, A) as http:
        config = await http.get("/mail/config-v1.1.xml", params={"emailaddress": DOCTOR})
        key = {"ESANTE-API-KEY": app.state.settings.mss_annuaire_api_key or ""}
        bundle = (await http.get("/fhir/v2/Practitioner", params={"_count": 2}, headers=key)).json()
        metadata = (await http.get("/fhir/v2/metadata", headers=key)).json()
    assert config.status_code == 200
    assert bundle.get("resourceType") == "Bundle", bundle
    assert f"<username>{A}/%EMAILADDRESS%</username>" in config.text
    base = f"{BASE_URL}/t/{A}/fhir/v2"
    assert all(link["url"].startswith(base + "/") for link in bundle["link"]), bundle["link"]
    assert bundle["entry"] and all(e["fullUrl"].startswith(base + "/") for e in bundle["entry"])
    assert metadata["implementation"]["url"] == base
    default = await client.get("/mail/config-v1.1.xml", params={"emailaddress": DOCTOR})
    assert "<username>%EMAILADDRESS%</username>" in default.text
