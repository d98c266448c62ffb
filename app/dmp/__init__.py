"""dmp domain."""
