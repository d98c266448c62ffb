"""mbsync (Debian package isync), a real synchronisation tool: a mailbox mirrored to a Maildir over STARTTLS,
then flags synchronised both ways with the HTTP API (a message marked seen locally is ``seen`` over HTTP, one
marked read over HTTP gets the Maildir ``S`` flag), and a later delivery fetched by the next run.

The configuration is isync 1.4's (Debian 12): ``SSLType`` (isync 1.5 renamed it ``TLSType``),
LOGIN with ``PassCmd``: XOAUTH2 would need a Cyrus SASL plugin Debian does not ship."""

from __future__ import annotations

import re
from pathlib import Path

from tests.mss.conftest import DOCTOR, PASSWORD
from tests.mss.helpers import sample_xdm
from tests.mss.imap.clients import deliver, listing, require_binary, run, write_pem

CONFIG = """\
IMAPAccount sandbox
# a name: mbsync checks the certificate's names, not its IP addresses (the test certificate names localhost)
Host localhost
Port {port}
User {user}
PassCmd "echo {password}"
AuthMechs LOGIN
SSLType STARTTLS
SystemCertificates no
CertificateFile {certificate}
Timeout 20

IMAPStore sandbox-far
Account sandbox

MaildirStore sandbox-near
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sandbox
Far :sandbox-far:
Near :sandbox-near:
Patterns * INBOX
Create Near
Sync All
Expunge None
SyncState *
"""

_NAME = re.compile(r",U=(\d+)[^/]*:2,([A-Z]*)$")


def maildir(folder: Path) -> dict[int, Path]:
    """The messages of a Maildir folder by their IMAP UID: mbsync names each file with its own Maildir UID
    (``…,U=<near uid>:2,<flags>``) and keeps the pairs (``<far uid> <near uid> <flags>``) in ``.mbsyncstate``."""
    near_files = {}
    for sub in ("new", "cur"):
        for path in (folder / sub).iterdir():
            match = _NAME.search(path.name)
            assert match, path.name
            near_files[int(match.group(1))] = path
    pairs = [line.split() for line in (folder / ".mbsyncstate").read_text().splitlines()
             if line[:1].isdigit()]
    return {int(far): near_files[int(near)] for far, near, *_ in pairs if int(near) in near_files}


def maildir_flags(path: Path) -> str:
    match = _NAME.search(path.name)
    assert match
    return match.group(2)


async def test_mbsync_mirrors_the_mailbox_and_syncs_seen_both_ways(app, client, smtp_call, tmp_path):
    mbsync = require_binary("mbsync")
    await deliver(smtp_call, subject="premier", xdm_bytes=sample_xdm())
    await deliver(smtp_call, subject="second")
    first, second = await listing(client)
    config = tmp_path / "mbsyncrc"
    (tmp_path / "mail").mkdir()  # mbsync creates the folders, not the store's root
    config.write_text(CONFIG.format(
        port=app.state.imap_port, user=DOCTOR, password=PASSWORD, maildir=tmp_path / "mail",
        certificate=write_pem(tmp_path, "server.pem", app.state.mss_tls_certificate)))

    async def sync() -> None:
        code, out, err = await run(mbsync, "-c", str(config), "-a", limit=60)
        assert code == 0, (out + err).decode(errors="replace")

    await sync()
    inbox = tmp_path / "mail" / "INBOX"
    files = maildir(inbox)
    assert set(files) == {first["imap_uid"], second["imap_uid"]}  # the HTTP API's imap_uid is the IMAP UID
    for folder in ("Sent", "Drafts", "Trash"):
        assert (tmp_path / "mail" / folder / "cur").is_dir(), folder  # every folder mirrored, empty
    raw = (await client.get(f"/sandbox/v1/mailboxes/{DOCTOR}/messages/{first['uid']}/raw")).content
    # mbsync stores LF line ends and adds its own X-TUID header (how it recognises the message later)
    mirrored = re.sub(rb"(?m)^X-TUID: \S+\n", b"", files[first["imap_uid"]].read_bytes(), count=1)
    assert mirrored == raw.replace(b"\r\n", b"\n")
    assert maildir_flags(files[first["imap_uid"]]) == maildir_flags(files[second["imap_uid"]]) == ""

    # the first marked seen in the Maildir (moved to cur/ with the S flag), the second read over HTTP
    local = files[first["imap_uid"]]
    local.rename(inbox / "cur" / (local.name.rsplit(":2,", 1)[0] + ":2,S"))
    assert (await client.post(f"/sandbox/v1/mailboxes/{DOCTOR}/messages/{second['uid']}/read")).status_code == 200
    await deliver(smtp_call, subject="troisieme")
    await sync()

    first, second, third = await listing(client)
    assert first["seen"] is True  # pushed by mbsync: UID STORE +FLAGS (\Seen)
    files = maildir(inbox)
    assert maildir_flags(files[second["imap_uid"]]) == "S"  # pulled by mbsync
    assert third["imap_uid"] in files and maildir_flags(files[third["imap_uid"]]) == ""
    assert third["seen"] is False  # mirrored with BODY.PEEK: fetching did not mark it read
