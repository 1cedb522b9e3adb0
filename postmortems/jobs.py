"""RQ entry points of the postmortems app: thin and idempotent."""

from . import services


def remind_action_items() -> dict[str, int]:
    """Owners reminded before the due date and daily once it has passed."""
    return services.remind_action_items()


def escalate_overdue_postmortems() -> int:
    """Seed 003's 48 hours: postmortems not in review are escalated to managers, once."""
    return services.escalate_overdue_postmortems()


def delete_old_alerts() -> int:
    """Seed 004 "数据清理": alerts of incidents closed ALERT_RETENTION_DAYS ago."""
    return services.delete_old_alerts()
