"""psc domain."""
