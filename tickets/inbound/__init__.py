"""Email to ticket: SES receipt -> SNS -> POST /hooks/ses/ (see docs/architecture.md)."""
