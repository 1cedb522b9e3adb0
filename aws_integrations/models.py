"""Models of the aws_integrations app: built by its own issue (see docs/architecture.md)."""
