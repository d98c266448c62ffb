"""ITI-18 Registry Stored Query (TD3.1): AdhocQueryRequest to the service's searches, answered as ebRIM."""

from __future__ import annotations

from app.dmp.exceptions import DmpError, Kind
from app.dmp.soap.call import SoapCall, SoapReply


async def registry_stored_query(call: SoapCall) -> SoapReply:
    raise DmpError(Kind.UNSUPPORTED, "not built yet", rule="sandbox:todo")  # groundwork: replaced by issue 11
