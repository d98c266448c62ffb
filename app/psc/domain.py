"""What the psc domain plugs into the platform."""

from app.domains import Domain
from app.psc import auth, control, me, memory, oidc, seed
from app.psc.exceptions import ControlRefusal, OAuthRefusal, TokenError
from app.psc.oidc.errors import oauth_refusal, token_refusal

DOMAIN = Domain(
    name="psc",
    routers=[oidc.router, control.router],
    protected_routers=[me.router],
    seed=seed.seed,
    authenticate=auth.authenticate,
    exception_handlers={
        OAuthRefusal: oauth_refusal, ControlRefusal: control.control_refusal, TokenError: token_refusal,
    },
    keep_on_reset=("psc_signing_key",),
    lifespan=memory.lifespan,
    # issue 16: the token endpoint against oidc-provider, userinfo at 4x the token rate (bench/peers)
    hot_operations=("psc_token", "psc_userinfo", "psc_userinfo_post"),
    openapi_tags=[
        {
            "name": "psc",
            "description": "Pro Santé Connect: an OpenID Connect provider with PSC's Keycloak layout (realm "
            "esante-wallet), userinfo in PSC's shape, CIBA poll mode.",
        }
    ],
)
