"""Reading DATA in bulk (pure): the end of data and dot-stuffing (RFC 5321 §4.1.1.4, §4.5.2) and the line
length limit (§4.5.3.1.6)."""

from __future__ import annotations

LINE_TOO_LONG = "500 5.5.2 Line too long (see RFC5321 4.5.3.1.6)"


def line_too_long(content: bytes) -> bool:
    """Whether a line of the dot-unstuffed message ``content`` is longer than 998 octets + CRLF (RFC 5321
    §4.5.3.1.6). Measured once unstuffed: the 1,000 octets of a line do not count "the leading dot
    duplicated for transparency" (aiosmtpd, which measures before unstuffing, allows 1,001)."""
    return len(content) > 998 and _has_long_line(content, 0)


def _has_long_line(data: bytes | bytearray, start: int, limit: int = 999) -> bool:
    """Whether a line of ``data[start:]`` (split at LF; the CR counts) is longer than ``limit`` octets
    (RFC 5321 §4.5.3.1.6: 998 + CRLF). A run of ``limit + 1`` octets without LF covers a whole aligned
    window of ``(limit + 1) // 2`` octets, so when every such window holds an LF no line is too long
    (one ``find`` per 500 octets instead of splitting the message into lines); otherwise the lines are
    measured."""
    step = (limit + 1) // 2
    find = data.find
    for at in range(start, len(data) - step + 1, step):
        if find(b"\n", at, at + step) < 0:
            return max(map(len, bytes(data[start:]).split(b"\n"))) > limit
    return False


def _scan_data(buffer: bytearray, scan_from: int, stuffed: bool) -> tuple[int, int, bool]:
    """One scan for "CRLF ." over what arrived since ``scan_from`` finds both the end of DATA ("CRLF . CRLF",
    RFC 5321 §4.1.1.4) and the dot-stuffed lines. Returns (where the terminator's CRLF starts or -1, where
    to scan from when more data has arrived, whether a dot-stuffed line was seen). Once one is seen, only
    the terminator is looked for (a message of dot-stuffed lines is not walked line by line in Python)."""
    while True:
        if stuffed:
            end = buffer.find(b"\r\n.\r\n", scan_from)
            return end, end if end >= 0 else max(0, len(buffer) - 4), True
        hit = buffer.find(b"\r\n.", scan_from)
        if hit < 0:
            return -1, max(0, len(buffer) - 2), stuffed
        if len(buffer) < hit + 5:  # what follows the dot is still to come
            return -1, hit, stuffed
        if buffer[hit + 3:hit + 5] == b"\r\n":
            return hit, hit, stuffed
        stuffed = True
        scan_from = hit + 3


def _unstuffed(buffer: bytearray, stuffed: bool | None = None) -> bytes:
    """The message of a DATA ``buffer`` that starts with the DATA line's CRLF and ends with the last line's
    CRLF, dot-unstuffed (RFC 5321 §4.5.2): every "CRLF ." loses its dot, the first line's leading dot
    included thanks to that first CRLF. One copy of the message (two when a line starts with a dot).
    ``stuffed``: whether the reader saw such a line (None: look)."""
    if stuffed is None:
        stuffed = buffer.find(b"\r\n.") >= 0
    if stuffed:
        buffer = buffer.replace(b"\r\n.", b"\r\n")
    with memoryview(buffer) as view:
        return bytes(view[2:])
