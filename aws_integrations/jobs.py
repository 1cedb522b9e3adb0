"""AWS jobs (queue "aws"): thin, idempotent, each logs what it did."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from spt_portal import outbox
from spt_portal.jobs import each
from spt_portal.models import CustomerAWSAccount

from . import support

logger = logging.getLogger(__name__)


def poll_support_cases() -> int:
    """Every 10 minutes: one poll job per enabled account (so one broken account never
    holds up the others, and accounts are synced in parallel by the workers)."""
    ids = list(
        CustomerAWSAccount.objects.filter(support_sync_enabled=True, customer__is_active=True)
        .exclude(role_arn="")
        .values_list("id", flat=True)
    )
    for account_id in ids:
        outbox.enqueue("aws_integrations.jobs.poll_support_account", account_id, queue="aws")
    logger.info("support poll: queued %s accounts", len(ids))
    return len(ids)


def poll_support_account(account_id: int) -> str:
    account = CustomerAWSAccount.objects.select_related("customer").filter(pk=account_id).first()
    if account is None or not account.support_sync_enabled:
        return "skipped"
    started = time.monotonic()
    run = support.poll_account(account)
    logger.info(
        "support poll %s: %s in %d ms",
        account.account_id,
        run.outcome,
        (time.monotonic() - started) * 1000,
    )
    return run.outcome


def push_case_comment(push_id: int) -> str:
    return support.push(push_id)


def retry_case_pushes() -> int:
    """Every 5 minutes: re-send comments whose push failed, once their backoff is over."""
    ids = support.due_pushes()
    for push_id in ids:
        outbox.enqueue("aws_integrations.jobs.push_case_comment", push_id, queue="aws")
    return len(ids)


def alert_stale_support_sync() -> int:
    """Every 5 minutes: tell the on-call engineers about accounts not synced for
    AWS_SUPPORT_STALE_MINUTES (once per account per stale period)."""
    from sla.oncall import on_call_users
    from spt_portal.notifications import notify_email

    stale = support.stale_accounts()
    bucket = int(timezone.now().timestamp() // (settings.AWS_SUPPORT_STALE_MINUTES * 60))
    for account in stale:
        for person in on_call_users():
            notify_email(
                to=person.email,
                template="support_sync_stale",
                language=person.preferred_language,
                tz=person.effective_timezone,
                context={
                    "account": account,
                    "minutes": settings.AWS_SUPPORT_STALE_MINUTES,
                    "error": account.support_api_error,
                },
                obj=account,
                dedupe_key=f"stale-sync:{account.pk}:{bucket}:{person.email}",
            )
    if stale:
        logger.warning("support sync stale for %s accounts", len(stale))
    return len(stale)


# A sync run still "running" after this long was cut short (its process was killed).
INTERRUPTED_RUN_MINUTES = 60


def close_interrupted_runs() -> int:
    """Every 15 minutes: a run left "running" by a process that was killed mid-way (OOM
    killer, deploy, lost host) is marked failed with that reason, so the run log and its
    evidence never show a run that is forever in progress. The work itself is redone by
    the next run (polls are idempotent)."""
    from .models import SyncRun

    now = timezone.now()
    closed = SyncRun.objects.filter(
        outcome=SyncRun.Outcome.RUNNING,
        started_at__lt=now - timedelta(minutes=INTERRUPTED_RUN_MINUTES),
    ).update(
        outcome=SyncRun.Outcome.FAILED,
        finished_at=now,
        errors="interrupted: the process stopped before the run finished",
    )
    if closed:
        logger.warning("sync runs: %s interrupted runs closed as failed", closed)
    return closed


def poll_health_events() -> str:
    """Every 15 minutes: the AWS Health safety-net poll (SPT-006)."""
    from .health_poll import poll

    return poll().outcome


def remind_health_updates() -> int:
    """Hourly: remind the engineer on an open Health event (or on call) to update the
    affected customers every AWS_HEALTH_UPDATE_HOURS."""
    from sla.oncall import on_call_users
    from spt_portal.notifications import notify_email

    from .health import events_needing_an_update

    events = events_needing_an_update()
    bucket = int(timezone.now().timestamp() // (settings.AWS_HEALTH_UPDATE_HOURS * 3600))
    for event in events:
        people = (
            [event.ticket.assignee] if event.ticket and event.ticket.assignee else on_call_users()
        )
        for person in people:
            notify_email(
                to=person.email,
                template="health_update_reminder",
                language=person.preferred_language,
                tz=person.effective_timezone,
                context={"event": event, "hours": settings.AWS_HEALTH_UPDATE_HOURS},
                obj=event.ticket,
                dedupe_key=f"health-remind:{event.pk}:{bucket}:{person.email}",
            )
    if events:
        logger.info(
            "health: reminded about %s events without a recent customer update", len(events)
        )
    return len(events)


def notify_health_customer(link_id: int, account_ids: list[str]) -> int:
    """After a Health event reached a customer: its notice to their people."""
    from . import health

    queued = health.notify_customer(link_id, account_ids)
    logger.info("health notice: %s emails queued for customer link %s", queued, link_id)
    return queued


def notify_health_customers(notices: list[list]) -> int:
    """``notify_health_customer`` for the customers of a batch of new Health events
    (``health.process_events``): one job for the lot, each ``[link id, account ids]``."""
    return each([tuple(n) for n in notices], notify_health_customer, "health notices")
