"""Gated scans: the SQL validator, its bounds, estimates, limits and the scan runs."""
