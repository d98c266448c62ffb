"""Parsing a received message: on the event loop only when the work is small and bounded; the skeleton and
the stdlib parser give the same answers."""

from __future__ import annotations

import pytest

from app.mss import mime, notifications, parser
from tests.mss.helpers import build_message, sample_xdm


async def test_parse_runs_on_the_loop_only_when_small_and_bounded(threads):
    """The parse and the XDM read run on the event loop for ordinary messages; a large message, or an XDM
    announcing a large inflated size (a zip bomb within the limits), goes to a worker thread."""
    from app.mss import xdm
    from tests.mss.helpers import make_zip

    ordinary = build_message(xdm_bytes=sample_xdm())
    parsed, attachments = await parser.parse_and_read_xdm(ordinary, parser.SKELETON)
    assert threads == [] and attachments and attachments[0].package is not None

    bomb = make_zip({f"IHE_XDM/SUBSET01/F{i}.BIN": b"\0" * (1024 * 1024) for i in range(9)})
    assert len(bomb) < 100_000 and xdm.declared_sizes(bomb) == (9 * 1024 * 1024, 0)
    bombed = build_message(xdm_bytes=bomb, auto_headers=False)
    parsed, attachments = await parser.parse_and_read_xdm(bombed, parser.SKELETON)
    assert threads == ["read_xdm_attachments"] and attachments[0].error is not None  # no METADATA.XML

    big = build_message(body="Lorem ipsum dolor sit amet.\n" * 20000)
    assert len(big) > parser.INLINE_MESSAGE_BYTES
    parsed, _ = await parser.parse_and_read_xdm(big, parser.SKELETON)
    assert threads[-1] == "parse_message" and parsed.text_body

    assert xdm.declared_sizes(b"not a zip") is None


async def test_parse_goes_to_a_thread_when_its_line_by_line_work_is_large(threads):
    """What the stdlib reads line by line (headers, small parts: not the large bodies) is bounded on the
    event loop: a 400 KB message of tiny parts, or one whose skeleton the stdlib reads differently (so
    that the whole message is parsed), cost up to a second there."""
    from email import policy
    from email.parser import BytesParser

    from app.mss import mime, skeleton, xdm
    from tests.mss.helpers import rezip

    parts = (b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
             + b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 10_000 + b"--b--\r\n")
    assert len(parts) < parser.INLINE_MESSAGE_BYTES
    parsed, _ = await parser.parse_and_read_xdm(parts, parser.SKELETON)
    assert threads == ["parse_message"] and len(parsed.parts) == mime.MAX_PARTS

    # A Content-Type folded with a bare LF: the planner takes the part for a leaf and leaves its body out,
    # the stdlib reads a multipart: the skeleton is small, the tree it gives is not kept.
    inner = b"--z\r\nContent-Type: text/plain\r\n\r\ny\r\n" * 3000 + b"--z--"
    crafted = (b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n"
               b"Content-Type:\n multipart/mixed; boundary=z\r\n\r\n" + inner + b"\r\n--outer--\r\n")
    plan = skeleton.plan_structure(crafted)
    assert plan.line_chars < parser.INLINE_LINE_CHARS < len(crafted)
    assert skeleton.parse_message_within(plan, parser.INLINE_LINE_CHARS) is None
    threads.clear()
    parsed, _ = await parser.parse_and_read_xdm(crafted, parser.SKELETON)
    assert threads == ["parse_message"]
    reference = BytesParser(policy=policy.compat32).parsebytes(crafted)
    assert parsed.message.as_bytes() == reference.as_bytes() and len(parsed.parts) == mime.MAX_PARTS

    # METADATA.XML over INLINE_METADATA_BYTES: its elements are walked in Python.
    base = sample_xdm()
    files = xdm.read_zip_entries(base)
    padded = files[xdm.METADATA_PATH].replace(b"</rim:RegistryObjectList>",
                                              b"<rim:ExtrinsicObject/>" * 4000 + b"</rim:RegistryObjectList>")
    metadata = rezip(base, replace={xdm.METADATA_PATH: padded})
    assert len(padded) > parser.INLINE_METADATA_BYTES and len(metadata) < 50_000
    threads.clear()
    padded_message = build_message(xdm_bytes=metadata, auto_headers=False)
    parsed, attachments = await parser.parse_and_read_xdm(padded_message, parser.SKELETON)
    assert threads == ["read_xdm_attachments"] and attachments[0].package is not None

    threads.clear()
    parsed, attachments = await parser.parse_and_read_xdm(build_message(xdm_bytes=base), parser.SKELETON)
    assert threads == [] and attachments[0].package is not None


def _same(a: mime.ParsedMessage, b: mime.ParsedMessage) -> None:
    assert a.headers == b.headers
    assert [p.to_dict() for p in a.parts] == [p.to_dict() for p in b.parts]
    assert a.payloads == b.payloads and a.defects == b.defects and a.truncated == b.truncated
    assert a.text_body == b.text_body and a.message.as_bytes() == b.message.as_bytes()


def _bounce() -> bytes:
    original = mime.parse_message(build_message(xdm_bytes=sample_xdm()))
    return notifications.build_dsn(
        hostname="smtp.sandbox.mssante.fr", original_sender="jean.martin@medecin.mssante.fr", original=original,
        recipients=[notifications.DsnRecipient("x@hopital-a.mssante.fr", "failed", "5.1.1",
                                               "550 5.1.1 <x@hopital-a.mssante.fr>: no such mailbox")])


@pytest.mark.parametrize("raw", [
    pytest.param(build_message(xdm_bytes=sample_xdm()), id="xdm"),
    pytest.param(build_message(xdm_bytes=sample_xdm(), pdf=True), id="xdm-and-pdf"),
    pytest.param(build_message(), id="text"),
    pytest.param(_bounce(), id="bounce"),
    pytest.param(b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                 + b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 300 + b"--b--\r\n", id="many-parts"),
    pytest.param(b"garbage without headers", id="garbage"),
])
async def test_skeleton_and_stdlib_parsers_answer_the_same(raw: bytes) -> None:
    """The fast parser (the skeleton) and the plain one (the stdlib on the whole message) give the same parsed
    message, whole or within the event loop's bound, and the same through the bounded runner."""
    _same(parser.SKELETON.parse_message(raw), parser.STDLIB.parse_message(raw))
    within = parser.SKELETON.parse_message_within(raw, 10**9), parser.STDLIB.parse_message_within(raw, 10**9)
    assert within[0] is not None and within[1] is not None
    _same(*within)
    _same(await parser.parse_message(raw, parser.SKELETON), await parser.parse_message(raw, parser.STDLIB))


async def test_the_setting_picks_the_parser(settings) -> None:  # type: ignore[no-untyped-def]
    assert parser.message_parser(settings.model_copy(update={"fast_paths": True})) is parser.SKELETON
    assert parser.message_parser(settings.model_copy(update={"fast_paths": False})) is parser.STDLIB
