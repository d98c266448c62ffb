"""Which console page shows what a journal entry touched. Pure: the entry's path and query in, a console path
(or ``None``) out. The paths are the services' own (README "API map")."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote

_MAILBOX = re.compile(r"^/(?:mss/v1|sandbox/v1)/mailboxes/([^/]+)(?:/messages/([^/]+))?")
_DMP = re.compile(r"^/sandbox/v1/dmps/([0-9A-Za-z]{15})(?:/|$)")
_INS_PARAMETER = re.compile(r"(?:^|\|)([0-9A-Za-z]{15})$")
_DMP_DOCUMENT = re.compile(r"^/dmp/fhir/DocumentReference/([A-Za-z0-9\-.]{1,64})$")
_PATIENT_PARAMETERS = ("patient.identifier", "identifier", "subject.identifier")


def target_of(path: str, query: str | None = None, protocol: str = "http") -> str | None:
    """The console page about what a request touched, or ``None`` when no page shows it.

    >>> target_of("/mss/v1/mailboxes/a@b.fr/messages/latest")
    '/console/mss/a%40b.fr/latest'
    """
    if protocol in ("smtp", "imap"):
        return "/console/mss"
    mailbox = _MAILBOX.match(path)
    if mailbox:
        address, uid = mailbox.groups()
        base = f"/console/mss/{quote(address, safe='')}"
        return f"{base}/{quote(uid, safe='')}" if uid and uid not in ("", "faults", "certificates") else base
    record = _DMP.match(path)
    if record:
        return f"/console/dmp/{record.group(1)}"
    document = _DMP_DOCUMENT.match(path)
    if document:
        return f"/console/dmp/documents/{document.group(1)}"
    if path.startswith(("/dmp/fhir", "/si-dmp-server", "/sandbox/v1/dmps")):
        for key, value in parse_qsl(query or "", keep_blank_values=True):
            if key in _PATIENT_PARAMETERS:
                ins = _INS_PARAMETER.search(value)
                if ins:
                    return f"/console/dmp/{ins.group(1)}"
        return "/console/dmp"
    if path.startswith(("/auth", "/.well-known", "/psc/", "/sandbox/v1/clients", "/sandbox/v1/professionals",
                        "/sandbox/v1/ciba", "/sandbox/v1/signing-keys")):
        return "/console/psc"
    if path.startswith(("/lps", "/insi/", "/sandbox/v1/persons", "/sandbox/v1/cards", "/sandbox/v1/idams",
                        "/sandbox/v1/ins-fixtures")):
        return "/console/ins"
    if path.startswith(("/mss/", "/mail/", "/fhir/v2", "/sandbox/v1/mailboxes")):
        return "/console/mss"
    return None
