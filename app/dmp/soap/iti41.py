"""ITI-41 Provide and Register Document Set-b (TD2.1/TD2.2): a SubmitObjectsRequest filed as a submission."""

from __future__ import annotations

from app.dmp.exceptions import DmpError, Kind
from app.dmp.soap.call import SoapCall, SoapReply


async def provide_and_register(call: SoapCall) -> SoapReply:
    raise DmpError(Kind.UNSUPPORTED, "not built yet", rule="sandbox:todo")  # groundwork: replaced by issue 11
