"""ITI-57 Update Document Set (TD3.3a-d): masking, visibility, archiving, deletion."""

from __future__ import annotations

from app.dmp.exceptions import DmpError, Kind
from app.dmp.soap.call import SoapCall, SoapReply


async def update_document_set(call: SoapCall) -> SoapReply:
    raise DmpError(Kind.UNSUPPORTED, "not built yet", rule="sandbox:todo")  # groundwork: replaced by issue 11
