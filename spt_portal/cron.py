"""The one list of periodic jobs. Run exactly one scheduler:

    python manage.py rqcron spt_portal/cron.py

Each job is idempotent, so a second scheduler started by mistake does no harm beyond
duplicate runs. Later apps add their jobs here (SLA breach scan, AWS polls, ...).
"""

from rq import cron

from aws_integrations.jobs import (
    alert_stale_support_sync,
    close_interrupted_runs,
    poll_health_events,
    poll_support_cases,
    remind_health_updates,
    retry_case_pushes,
)
from incidents.jobs import (
    evaluate_time_rules,
    paging_tick,
    retry_alert_payloads,
    retry_rule_actions,
)
from postmortems.jobs import delete_old_alerts, escalate_overdue_postmortems, remind_action_items
from spt_portal.jobs import (
    delete_old_outbox_rows,
    relay_outbox,
    retry_pending_notifications,
    worker_heartbeat,
)
from tickets.jobs import close_stale_resolved_tickets, sla_scan

# Hand over jobs that could not reach Redis when they were created.
cron.register(relay_outbox, queue_name="default", interval=60)
# Lets /healthz tell whether workers are taking jobs.
cron.register(worker_heartbeat, queue_name="default", interval=60)
# Notifications whose delivery job was lost are offered again.
cron.register(retry_pending_notifications, queue_name="notifications", interval=600)
# Resolved tickets never confirmed by the customer close themselves (TICKET_AUTO_CLOSE_DAYS).
cron.register(close_stale_resolved_tickets, queue_name="default", cron="17 * * * *")
# SLA warnings, breaches and escalations, each raised once per deadline.
cron.register(sla_scan, queue_name="default", interval=60)
# SPT-005: every AWS Support case of every enabled account, every 10 minutes.
cron.register(poll_support_cases, queue_name="aws", cron="*/10 * * * *")
cron.register(retry_case_pushes, queue_name="aws", interval=300)
cron.register(alert_stale_support_sync, queue_name="aws", interval=300)
# Runs left "running" by a killed process are closed as failed (the next run redoes them).
cron.register(close_interrupted_runs, queue_name="aws", cron="*/15 * * * *")
# SPT-006: the Health poll behind the EventBridge -> SQS consumer.
cron.register(poll_health_events, queue_name="aws", cron="*/15 * * * *")
cron.register(remind_health_updates, queue_name="aws", cron="5 * * * *")
# Incidents: page repeats and escalation steps that are due; alert payloads whose
# processing job was lost.
cron.register(paging_tick, queue_name="default", interval=60)
cron.register(retry_alert_payloads, queue_name="default", interval=120)
# Rules with time conditions ("in progress for more than 24h"), and failed rule actions.
cron.register(evaluate_time_rules, queue_name="default", interval=60)
cron.register(retry_rule_actions, queue_name="default", interval=120)
# Postmortems: seed 003's 48 h review deadline, action item reminders (09:00 in China),
# and seed 004's alert retention (at night in China; with the outbox's below, the only
# automatic deletions).
cron.register(escalate_overdue_postmortems, queue_name="default", cron="*/15 * * * *")
cron.register(remind_action_items, queue_name="notifications", cron="0 1 * * *")
cron.register(delete_old_alerts, queue_name="default", cron="30 19 * * *")
# The outbox's handed-over rows (plumbing, not evidence) after OUTBOX_RETENTION_DAYS.
cron.register(delete_old_outbox_rows, queue_name="default", cron="45 19 * * *")
