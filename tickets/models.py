"""Models of the tickets app: built by its own issue (see docs/architecture.md)."""
