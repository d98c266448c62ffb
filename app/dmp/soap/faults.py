"""SOAP 1.2 faults of the DMP's SOAP face: a request the transport or the security check refuses before any
transaction runs (malformed envelope, wrong action, missing WS-Addressing, content type, VIHF refused)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SoapFault(Exception):
    """A SOAP 1.2 fault (SOAP 1.2 part 1 §5.4): ``code`` is ``Sender`` or ``Receiver``; ``subcode`` the
    DMP's or WS-Addressing's code (a QName's local part, e.g. ``InvalidAddressingHeader``, or a DMPi code);
    ``reason`` in French first, as the DMP answers; ``rule`` the rule recorded in the journal."""

    code: str
    subcode: str
    reason: str
    rule: str
    detail: str | None = None
    subcode_ns: str | None = None  # the namespace of the subcode's QName (WS-Addressing's, the DMP's, ...)
    http_status: int = 400  # SOAP 1.2 part 2 §7.5.1.2: 400 for Sender, 500 for Receiver

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}/{self.subcode}: {self.reason}")
