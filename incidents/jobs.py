"""RQ entry points of the incidents app: thin, take ids, idempotent."""

from . import alerts, paging, rules


def process_alert_payload(payload_id: int):
    """Process one stored webhook body (skipped when already processed)."""
    payload = alerts.process_payload(payload_id)
    return payload.status if payload else "missing"


def retry_alert_payloads() -> int:
    return alerts.retry_pending_payloads()


def send_page(page_id: int, sends: int) -> str:
    """Send a page for the ``sends``-th time; stale when that already happened."""
    return paging.page_send(page_id, sends)


def escalate_incident(incident_id: int, escalation_id: str, level: int) -> str:
    """One escalation step; stale (quiet) unless it is the incident's current one."""
    return paging.escalation_step(incident_id, escalation_id, level)


def paging_tick() -> dict[str, int]:
    return paging.tick()


def evaluate_rules(target: str, object_id: int, trigger: str = "update") -> int:
    """Check the active rules against one ticket or incident (idempotent per values)."""
    return rules.evaluate(target, object_id, trigger)


def evaluate_time_rules() -> dict[str, int]:
    return rules.evaluate_time_rules()


def retry_rule_actions() -> int:
    return rules.retry_failed()


def collect_prometheus_metrics(incident_id: int) -> dict[str, int]:
    """Evaluate the active Prometheus queries over one incident's window."""
    from .models import Incident
    from .prometheus import collect

    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return {"series": 0, "failed": 0}
    outcomes = collect(incident)
    return {
        "series": sum(o.series for o in outcomes),
        "failed": sum(bool(o.error) for o in outcomes),
    }
