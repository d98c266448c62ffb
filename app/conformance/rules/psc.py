"""Pro Santé Connect rows 47 and 48 (SC.PSC.08 / EX PSC 16, SC.PSC.01; Squash export). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from app.conformance.model import Entry, Verdict
from app.conformance.rules.common import psc_flows


def eidas1(entries: Sequence[Entry]) -> Verdict:
    """Row 47, SC.PSC.08 (EX PSC 16): ``acr_values=eidas1`` on every authorization and CIBA request."""
    requests = psc_flows(entries, "code", "ciba")
    if not requests:
        return Verdict.not_exercised("no PSC authorization or CIBA request by this client")
    missing = [e for e in requests if "eidas1" not in str(e.fact("acr_values") or "").split()]
    if missing:
        sent = sorted({str(e.fact("acr_values")) for e in missing})
        return Verdict.failed(f"{len(missing)} of {len(requests)} requests without acr_values=eidas1 "
                              f"(sent: {', '.join(sent)})", missing)
    return Verdict.passed(f"{len(requests)} requests with acr_values=eidas1", requests)


def allowed_flow_and_logout(entries: Sequence[Entry]) -> Verdict:
    """Row 48, SC.PSC.01: the code flow or CIBA is used, and a logout reaches the end-session endpoint."""
    flows = psc_flows(entries, "code", "ciba")
    logouts = psc_flows(entries, "logout")
    if not flows and not logouts:
        return Verdict.not_exercised("no PSC authorization, CIBA or logout request by this client")
    if not flows:
        return Verdict.failed("a logout but no authorization code flow nor CIBA request", logouts)
    if not logouts:
        return Verdict.failed("no logout reached the end-session endpoint", flows[-1:])
    used = sorted({str(e.fact("flow")) for e in flows})
    return Verdict.passed(f"flows used: {', '.join(used)}; {len(logouts)} logout(s)", [*flows, *logouts])
