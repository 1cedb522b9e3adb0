"""Models of the sla app: built by its own issue (see docs/architecture.md)."""
