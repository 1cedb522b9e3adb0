"""Fault tests: the portal under broken servers and killed processes (marker ``faults``)."""
