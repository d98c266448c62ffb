"""The OpenID Connect face of PSC, with Keycloak's path layout (realm ``esante-wallet``): it translates
OIDC requests into calls of the domain and its answers (and refusals, :mod:`.errors`) back.

Paths and behaviour: reference psc.md §2 (``ansforge/keycloak-prosanteconnect`` ``psc.properties``),
§3 (ANS's discovery fixture, ``ansforge/psc-edc-proxy-esante``), §4 (CIBA page of
industriels.esante.gouv.fr). One module per endpoint family: :mod:`.discovery` (metadata, JWKS),
:mod:`.authorize` (and its pages, :mod:`.pages`), :mod:`.token`, :mod:`.userinfo`, :mod:`.introspection`
(introspect, revoke), :mod:`.logout`, :mod:`.ciba`; :mod:`.http` holds what they share."""

from fastapi import APIRouter

from app.psc.oidc import authorize, ciba, discovery, introspection, logout, token, userinfo

router = APIRouter()
# The endpoints' routes themselves, not their routers: FastAPI walks every included router on each request
# (its routes version, then its candidates), and a nested router costs the hot paths ~20 µs a request.
for _face in (discovery, authorize, token, userinfo, introspection, logout, ciba):
    router.routes.extend(_face.router.routes)
