"""Models of the postmortems app: built by its own issue (see docs/architecture.md)."""
