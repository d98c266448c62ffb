"""What the psc domain plugs into the platform."""

from app.domains import Domain
from app.psc import auth, control, memory, router, service

DOMAIN = Domain(
    name="psc",
    routers=[router.router, control.router],
    seed=service.seed,
    authenticate=auth.authenticate,
    keep_on_reset=("psc_signing_key",),
    lifespan=memory.lifespan,
    openapi_tags=[
        {
            "name": "psc",
            "description": "Pro Santé Connect: an OpenID Connect provider with PSC's Keycloak layout (realm "
            "esante-wallet), userinfo in PSC's shape, CIBA poll mode.",
        }
    ],
)
