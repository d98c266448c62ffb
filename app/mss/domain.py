"""What the mss domain plugs into the platform."""

from app.domains import Domain
from app.mss import annuaire, autoconfig, control, http, service
from app.mss.exceptions import MssError
from app.mss.http import discovery, problems
from app.mss.smtp import smtp_lifespan

DOMAIN = Domain(
    name="mss",
    routers=[discovery.router, control.router, autoconfig.router, annuaire.router],
    protected_routers=[http.router],
    seed=service.seed,
    lifespan=smtp_lifespan,
    exception_handlers={MssError: problems.handle},
    keep_on_reset=("mss_tls_key",),
    openapi_tags=[
        {"name": "mss", "description": "MSSanté operator: HTTP mailbox API over the mailboxes the SMTP "
         "listener delivers to (send, list, read, raw, attachments, read receipts, XDM helper)."},
        {"name": "annuaire", "description": "Annuaire Santé FHIR stub (/fhir/v2): Practitioner, "
         "PractitionerRole, Organization with MSSanté mailboxes, header ESANTE-API-KEY."},
    ],
)
