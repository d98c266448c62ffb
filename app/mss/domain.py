"""What the mss domain plugs into the platform."""

from app.domains import Domain
from app.mss import annuaire, router, service, smtp

DOMAIN = Domain(
    name="mss",
    routers=[router.router, router.control, router.autoconfig, annuaire.router],
    seed=service.seed,
    lifespan=smtp.smtp_lifespan,
    keep_on_reset=("mss_tls_key",),
    openapi_tags=[
        {"name": "mss", "description": "MSSanté operator: HTTP mailbox API over the mailboxes the SMTP "
         "listener delivers to (send, list, read, raw, attachments, read receipts, XDM helper)."},
        {"name": "annuaire", "description": "Annuaire Santé FHIR stub (/fhir/v2): Practitioner, "
         "PractitionerRole, Organization with MSSanté mailboxes, header ESANTE-API-KEY."},
    ],
)
