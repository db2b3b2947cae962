"""Simulated modem pool and mobile network for smsgw (see sim/README.md)."""
