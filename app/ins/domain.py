"""What the ins domain plugs into the platform."""

from app.domains import Domain

DOMAIN = Domain(name="ins")
