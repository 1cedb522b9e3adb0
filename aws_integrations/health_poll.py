"""The AWS Health poll, every 15 minutes: the safety net behind EventBridge.

Organisation view (the management account, ``AWS_HEALTH_ORGANIZATION_VIEW``): the
``*ForOrganization`` calls. Account view (a partner without an organisation): each customer
account with Health enabled, through its role. Events updated since the last successful
poll (with an overlap) go through the same ``health.process_event`` as the queue.
"""

import logging
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.utils import timezone

from spt_portal.models import CustomerAWSAccount

from . import health
from .clients import health_client
from .models import SyncRun

logger = logging.getLogger(__name__)


def _since() -> timezone.datetime:
    last = (
        SyncRun.objects.filter(kind=SyncRun.Kind.HEALTH_POLL, outcome=SyncRun.Outcome.OK)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    overlap = timedelta(minutes=settings.AWS_HEALTH_POLL_OVERLAP_MINUTES)
    return (last - overlap) if last else timezone.now() - timedelta(days=7)


def poll_organization(*, client=None) -> SyncRun:
    run = SyncRun.objects.create(kind=SyncRun.Kind.HEALTH_POLL)
    seen = processed = 0
    try:
        client = client or health_client()
        since = _since()
        paginator = client.get_paginator("describe_events_for_organization")
        for page in paginator.paginate(filter={"lastUpdatedTime": {"from": since}}):
            for event in page.get("events", []):
                seen += 1
                arn = event["arn"]
                accounts = []
                for accounts_page in client.get_paginator(
                    "describe_affected_accounts_for_organization"
                ).paginate(eventArn=arn):
                    accounts += accounts_page.get("affectedAccounts", [])
                detail_filter = {"eventArn": arn}
                if accounts:
                    detail_filter["awsAccountId"] = accounts[0]
                details = client.describe_event_details_for_organization(
                    organizationEventDetailFilters=[detail_filter]
                )
                description = ""
                for item in details.get("successfulSet", []):
                    description = item.get("eventDescription", {}).get("latestDescription", "")
                entities = []
                if accounts:
                    for start in range(0, len(accounts), 10):
                        filters = [
                            {"eventArn": arn, "awsAccountId": a}
                            for a in accounts[start : start + 10]
                        ]
                        for entities_page in client.get_paginator(
                            "describe_affected_entities_for_organization"
                        ).paginate(organizationEntityFilters=filters):
                            entities += entities_page.get("entities", [])
                health.process_event(
                    health.normalize_api(
                        event, description=description, accounts=accounts, entities=entities
                    )
                )
                processed += 1
    except (ClientError, BotoCoreError, ValueError) as exc:
        return _finish(run, SyncRun.Outcome.FAILED, seen, f"{type(exc).__name__}: {exc}")
    return _finish(run, SyncRun.Outcome.OK, seen, "")


def poll_accounts(*, clients=None) -> SyncRun:
    """Account view: each customer account through its role. One failing account is
    recorded and does not stop the others, nor hold their windows back: each account reads
    from its own last good poll (``health_polled_at``), so a broken account is read again
    from before it broke, once it works, and the others do not reread days of events."""
    run = SyncRun.objects.create(kind=SyncRun.Kind.HEALTH_POLL)
    seen = 0
    errors = []
    fallback = _since()
    overlap = timedelta(minutes=settings.AWS_HEALTH_POLL_OVERLAP_MINUTES)
    for account in CustomerAWSAccount.objects.filter(health_enabled=True).exclude(role_arn=""):
        since = account.health_polled_at - overlap if account.health_polled_at else fallback
        try:
            client = (clients or {}).get(account.account_id) or health_client(account)
            for page in client.get_paginator("describe_events").paginate(
                filter={"lastUpdatedTimes": [{"from": since}]}
            ):
                for event in page.get("events", []):
                    seen += 1
                    arn = event["arn"]
                    details = client.describe_event_details(eventArns=[arn])
                    description = ""
                    for item in details.get("successfulSet", []):
                        description = item.get("eventDescription", {}).get("latestDescription", "")
                    entities = []
                    for entities_page in client.get_paginator(
                        "describe_affected_entities"
                    ).paginate(filter={"eventArns": [arn]}):
                        entities += [
                            {**e, "awsAccountId": e.get("awsAccountId") or account.account_id}
                            for e in entities_page.get("entities", [])
                        ]
                    health.process_event(
                        health.normalize_api(
                            event,
                            description=description,
                            accounts=[account.account_id],
                            entities=entities,
                        )
                    )
        except (ClientError, BotoCoreError, ValueError) as exc:
            errors.append(f"{account.account_id}: {type(exc).__name__}: {exc}")
            logger.warning("health poll of %s failed: %s", account.account_id, exc)
        else:
            CustomerAWSAccount.objects.filter(pk=account.pk).update(health_polled_at=run.started_at)
    return _finish(
        run, SyncRun.Outcome.FAILED if errors else SyncRun.Outcome.OK, seen, "\n".join(errors)
    )


def _finish(run: SyncRun, outcome: str, seen: int, errors: str) -> SyncRun:
    run.outcome = outcome
    run.cases_seen = seen
    run.errors = errors[:4000]
    run.finished_at = timezone.now()
    run.save()
    logger.info("health poll: %s, %s events, %s", outcome, seen, errors or "no errors")
    return run


def poll() -> SyncRun:
    return poll_organization() if settings.AWS_HEALTH_ORGANIZATION_VIEW else poll_accounts()
