"""The HTTP face of the MSSanté operator: the mailbox API (``/mss/v1``).

The mailbox owner authenticates with a PSC access token, as the API LPS does for personal and
organisational mailboxes (Référentiel socle MSSanté #2, mss.md §3): :data:`router` holds every route that
needs one and is listed in ``Domain(protected_routers=...)``, so a route added to it is protected by
default; :data:`app.mss.http.discovery.router` holds the open ones. Errors are RFC 9457 problem documents
(:mod:`.problems`); each refusal names its rule.
"""

from fastapi import APIRouter

from app.mss.http import discovery
from app.mss.http.deps import owned_mailbox
from app.mss.http.mailboxes import add_mailbox_routes
from app.mss.http.messages import add_message_routes
from app.mss.http.xdm import add_xdm_routes

router = APIRouter(prefix="/mss/v1", tags=["mss"])
add_message_routes(router, owned_mailbox, "mss")
add_mailbox_routes(router)
add_xdm_routes(router)

__all__ = ["discovery", "router"]
