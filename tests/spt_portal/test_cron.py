from django_rq.cron import DjangoCronScheduler

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


def test_cron_file_registers_the_periodic_jobs():
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("spt_portal/cron.py")
    jobs = {job.func: job for job in scheduler.get_jobs()}
    assert set(jobs) == {
        relay_outbox,
        worker_heartbeat,
        retry_pending_notifications,
        close_stale_resolved_tickets,
        sla_scan,
        poll_support_cases,
        retry_case_pushes,
        alert_stale_support_sync,
        close_interrupted_runs,
        poll_health_events,
        remind_health_updates,
        paging_tick,
        retry_alert_payloads,
        evaluate_time_rules,
        retry_rule_actions,
        escalate_overdue_postmortems,
        remind_action_items,
        delete_old_alerts,
        delete_old_outbox_rows,
    }
    assert jobs[retry_pending_notifications].queue_name == "notifications"
    assert jobs[relay_outbox].interval == 60
