"""ins domain."""
