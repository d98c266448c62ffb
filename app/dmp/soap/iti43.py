"""ITI-43 Retrieve Document Set (TD3.2): documents streamed as MTOM parts."""

from __future__ import annotations

from app.dmp.exceptions import DmpError, Kind
from app.dmp.soap.call import SoapCall, SoapReply


async def retrieve_document_set(call: SoapCall) -> SoapReply:
    raise DmpError(Kind.UNSUPPORTED, "not built yet", rule="sandbox:todo")  # groundwork: replaced by issue 11
