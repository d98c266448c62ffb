"""mss domain."""
