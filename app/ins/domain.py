"""What the ins domain plugs into the platform."""

from app.domains import Domain
from app.ins.service import seed

DOMAIN = Domain(
    name="ins",
    seed=seed,
    openapi_tags=[{"name": "ins", "description": "INSi teleservice (SOAP 1.2 at /lps) and its JSON facade"}],
)
