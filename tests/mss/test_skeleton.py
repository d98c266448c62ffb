"""``skeleton.parse_structure`` builds exactly the tree the stdlib parser builds from the real message."""

from __future__ import annotations

import base64
import os
import random
from email import policy
from email.message import Message
from email.parser import BytesParser

from app.mss import skeleton
from tests.mss.helpers import build_message, sample_xdm


def dump(node: Message) -> tuple:
    payload = node._payload  # noqa: SLF001 - the exact payload, as stored by the parser
    return (
        node._headers,  # noqa: SLF001
        node._unixfrom,  # noqa: SLF001
        node.preamble,
        node.epilogue,
        [type(d).__name__ for d in node.defects],
        node.get_default_type(),
        [dump(c) if isinstance(c, Message) else c for c in payload] if isinstance(payload, list) else payload,
    )


def reference(raw: bytes) -> tuple:
    return dump(BytesParser(policy=policy.compat32).parsebytes(raw))


def same_tree(raw: bytes) -> bool:
    return dump(skeleton.parse_structure(raw)) == reference(raw)


def _with_big_attachment(payload: bytes | None = None) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Dr Jean MARTIN <jean.martin@medecin.mssante.fr>"
    msg["To"] = "marie.durand@hopital-a.mssante.fr"
    msg["Subject"] = "test"
    msg.set_content("Bonjour.")
    msg.add_attachment(payload if payload is not None else random.Random(7).randbytes(100 * 1024),
                       maintype="application", subtype="zip", filename="IHE_XDM.ZIP")
    msg.add_attachment(b"%PDF-1.4\n" + os.urandom(5000), maintype="application", subtype="pdf",
                       filename="cr.pdf")
    return msg.as_bytes(policy=policy.SMTP)


def test_large_attachment_is_elided_and_restored() -> None:
    raw = _with_big_attachment()
    plan = skeleton._elide(raw.decode("ascii", "surrogateescape"))  # noqa: SLF001
    assert plan is not None
    text, bodies = plan
    assert len(bodies) == 2 and len(text) < 3000  # the zip and the pdf bodies are not in the skeleton
    assert same_tree(raw)
    parsed = skeleton.parse_message(raw)
    assert parsed.xdm_parts and parsed.payload(parsed.xdm_parts[0]) == random.Random(7).randbytes(100 * 1024)


def test_messages_of_the_suite_parse_the_same() -> None:
    for raw in [
        build_message(),
        build_message(xdm_bytes=sample_xdm()),
        build_message(xdm_bytes=sample_xdm(), pdf=True),
        b"",
        b"garbage without headers",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno end',
        b"Content-Type: multipart/mixed\r\n\r\nno boundary",
        b"\x00\xff\xfe" * 100,
    ]:
        assert same_tree(raw)


def _wrap(body: bytes, *, boundary: bytes = b"BOUND", ctype: bytes = b"application/octet-stream",
          tail: bytes = b"--BOUND--\r\n", preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    return (
        b"From: a@b.c\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n\r\n"
        + preamble + b"--" + boundary + b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        + b"--" + boundary + b"\r\nContent-Type: " + ctype + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body + b"\r\n" + tail + epilogue
    )


BODY = base64.encodebytes(random.Random(3).randbytes(20000)).replace(b"\n", b"\r\n").rstrip(b"\r\n")


def test_tricky_bodies_parse_the_same() -> None:
    half = len(BODY) // 2
    cases = [
        _wrap(BODY),
        _wrap(BODY, preamble=b"This is a preamble\r\n", epilogue=b"epilogue\r\n"),
        _wrap(BODY[:half] + b"\n" + BODY[half:]),  # a bare LF: the stdlib breaks the line there
        _wrap(BODY[:half] + b"\r" + BODY[half:]),  # a bare CR
        _wrap(BODY[:half] + b"\r\n--BOUND\r\n" + BODY[half:]),  # a boundary inside the body
        _wrap(BODY[:half] + b"\r\n--BOUNDARY-not\r\n" + BODY[half:]),  # starts like the boundary
        _wrap(BODY[:half] + b"\n--BOUND\n" + BODY[half:]),  # a boundary with bare LFs
        _wrap(BODY[:half] + b"\r\n--BOUND--\r\n" + BODY[half:]),  # a close boundary inside the body
        _wrap(BODY, tail=b"--BOUND-- \t\r\n"),  # whitespace after the close boundary
        _wrap(BODY, tail=b""),  # no close boundary
        _wrap(BODY, tail=b"--BOUND"),  # close boundary without CRLF, at the end
        _wrap(BODY, tail=b"--BOUND\r\n--BOUND\r\n\r\nx\r\n--BOUND--\r\n"),  # repeated boundary lines
        _wrap(BODY, ctype=b"message/rfc822"),
        _wrap(b"Content-Type: text/plain\r\n\r\n" + BODY, ctype=b"message/rfc822"),
        _wrap(BODY, ctype=b"multipart/mixed"),
        _wrap(BODY, boundary=b"x\"y"),
        _wrap(BODY).replace(b"multipart/mixed", b"multipart/digest"),
        _wrap(BODY).replace(b"Content-Type: application/octet-stream\r\n", b"Content-Type: application/octet-stream\r\n"
                                                                         b"bad header line\r\n"),
        _wrap(BODY).replace(b"Content-Transfer-Encoding: base64\r\n\r\n", b"Content-Transfer-Encoding: base64\r\n"),
        _wrap(BODY).replace(b"\r\n", b"\n"),  # LF-only message
        _wrap(BODY + b"\xff\xfe\x80"),  # 8-bit bytes (surrogateescape)
        _wrap(BODY[:half] + b"MSS-ELIDED-" + BODY[half:]),
    ]
    nested = (
        b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n"
        b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\n"
        + BODY + b"\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--inner--\r\n\r\n--outer\r\n"
        b"Content-Type: application/zip\r\n\r\n" + BODY + b"\r\n--outer--\r\n"
    )
    cases += [
        nested,
        nested.replace(b"<p>x</p>", BODY[:half] + b"\r\n--outer\r\n" + BODY[half:]),  # outer boundary, inner part
        nested.replace(b"--inner--\r\n", b""),  # inner part never closed
    ]
    for number, raw in enumerate(cases):
        assert same_tree(raw), f"case {number}"


def test_random_damage_parses_the_same() -> None:
    rng = random.Random(2026)
    base = _with_big_attachment(rng.randbytes(6000))
    boundary = BytesParser(policy=policy.compat32).parsebytes(base).get_boundary().encode()
    inserts = [b"\r", b"\n", b"\r\n", b"--", b"\r\n--" + boundary, b"\r\n--" + boundary + b"--\r\n",
               b"\n--" + boundary + b"\n", b"\r--" + boundary + b"\r", b"--" + boundary, b"\r\n\r\n",
               b"Content-Type: multipart/mixed; boundary=z\r\n", b"\r\n--z\r\n", b"=", b"\x00"]
    for _ in range(400):
        raw = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(raw))
            if rng.random() < 0.2:
                del raw[at:at + rng.randint(1, 40)]
            else:
                raw[at:at] = rng.choice(inserts)
        assert same_tree(bytes(raw))


def test_planner_misreading_a_content_type_is_caught() -> None:
    """A Content-Type folded with a bare LF: the planner reads "" (a leaf), the stdlib a multipart whose
    boundary the body uses. In the skeleton the token is still the whole payload of a leaf, one multipart
    deeper than planned: the tree must not be kept (the real body splits into more parts)."""
    half = len(BODY) // 2
    raw = (b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
           b"Content-Type:\n multipart/mixed; boundary=c\n\n--c\nContent-Type: text/plain\r\n\r\n"
           + BODY[:half] + b"\r\n--c\r\nContent-Type: text/html\r\n\r\n" + BODY[half:] + b"\r\n--a--\r\n")
    plan = skeleton.plan_structure(raw)
    assert plan.skeleton is not None and len(plan.bodies) == 1  # the planner took the bait
    assert same_tree(raw)
    assert len(skeleton.parse_message(raw).parts) == 2
