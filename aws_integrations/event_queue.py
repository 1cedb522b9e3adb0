"""The SQS consumer for EventBridge events: AWS Health events (SPT-006) and AWS Support
case updates (SPT-005's real-time path).

A message is deleted only after its work is committed (a received batch's handled messages
in one DeleteMessageBatch call). A batch's Health events are stored in one transaction,
each in a savepoint (one commit and one hand-over of jobs for up to ten events); Support
case updates are synced one by one, outside it. A message whose processing fails
stays on the queue (visible again after its visibility timeout) and reaches the
dead-letter queue after the queue's maxReceiveCount. A malformed message is logged with
its body and moved to the dead-letter queue at once; it never stops the consumer.
"""

import json
import logging
import time

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from spt_portal.models import CustomerAWSAccount

from . import health, support
from .clients import partner_client
from .models import SyncRun

logger = logging.getLogger(__name__)


class Malformed(ValueError):
    pass


def _read(message: dict):
    """("health", the normalized event) or ("support", the body); Malformed otherwise (a
    body of the wrong shape: not JSON, a field of the wrong type, an impossible date)."""
    try:
        return _parse(message)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # HealthError too
        raise Malformed(f"{type(exc).__name__}: {exc}") from exc


def _parse(message: dict):
    body = json.loads(message["Body"])
    source = body.get("source") if isinstance(body, dict) else None
    if source == "aws.support":
        detail = body.get("detail") or {}
        if not detail.get("case-id") or not body.get("account"):
            raise Malformed("Support Case Update without case-id or account")
        return "support", body
    return "health", health.normalize_eventbridge(body)


def _sync_support_case(body: dict) -> None:
    case_id, account_id = body["detail"]["case-id"], str(body["account"])
    account = CustomerAWSAccount.objects.filter(
        account_id=account_id, support_sync_enabled=True
    ).first()
    if account is None:
        logger.info("support event for unknown account %s ignored", account_id)
        return
    support.sync_one_case(account, case_id)


def consume_once(
    *, client=None, queue_url=None, wait_seconds=20, max_messages=10
) -> dict[str, int]:
    client = client or partner_client("sqs")
    queue_url = queue_url or settings.AWS_HEALTH_QUEUE_URL
    if not queue_url:
        raise ValueError("AWS_HEALTH_QUEUE_URL is not set")
    counts = {"received": 0, "processed": 0, "malformed": 0, "failed": 0}
    response = client.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max_messages,
        WaitTimeSeconds=wait_seconds,
        AttributeNames=["ApproximateReceiveCount"],
    )
    messages = response.get("Messages", [])
    if not messages:
        return counts
    run = SyncRun.objects.create(kind=SyncRun.Kind.HEALTH_QUEUE)
    errors: list[str] = []
    done = []  # committed (or moved to the dead-letter queue): deleted together at the end
    events, cases = [], []
    for message in messages:
        counts["received"] += 1
        try:
            kind, data = _read(message)
        except Malformed as exc:
            counts["malformed"] += 1
            logger.error(
                "event queue: malformed message %s (%s): %s",
                message.get("MessageId"),
                exc,
                message.get("Body", "")[:2000],
            )
            errors.append(f"malformed {message.get('MessageId')}: {exc}")
            _to_dead_letter(client, message)
            done.append(message)
            continue
        (events if kind == "health" else cases).append((message, data))
    done += _store_health_events(events, counts, errors)
    # A Support case is synced on its own: its AWS calls must not hold the batch's locks.
    for message, body in cases:
        try:
            _sync_support_case(body)
        except Exception as exc:  # database down, AWS error...: leave it for redelivery
            _failed(message, exc, counts, errors)
            continue
        done.append(message)
        counts["processed"] += 1
    _delete(client, queue_url, done)
    try:
        SyncRun.objects.filter(pk=run.pk).update(
            outcome=SyncRun.Outcome.FAILED if counts["failed"] else SyncRun.Outcome.OK,
            finished_at=timezone.now(),
            cases_seen=counts["received"],
            errors="\n".join(errors)[:4000],
        )
    except Exception:
        logger.exception("event queue: could not record the run")
    logger.info(
        "event queue: %(received)s received, %(processed)s processed, "
        "%(malformed)s malformed, %(failed)s failed",
        counts,
    )
    return counts


def _store_health_events(events: list, counts: dict, errors: list[str]) -> list[dict]:
    """The batch's Health events in one transaction (``health.process_events``: new events
    stored together, each other event in a savepoint), one commit and one hand-over of
    their jobs for the lot. An event that fails is rolled back alone and stays on the
    queue; when the transaction itself fails (the database went away), none of them is
    done. Returns the messages whose events are committed."""
    if not events:
        return []
    try:
        with transaction.atomic():
            results = health.process_events([data for _message, data in events])
            if transaction.get_rollback():  # it would roll back without a word
                raise DatabaseError("the batch's transaction was marked for rollback")
    except Exception as exc:  # the batch itself (a query, the commit): none is stored
        results = [exc] * len(events)
    stored, failed = [], []
    for (message, _data), result in zip(events, results, strict=True):
        if isinstance(result, Exception):  # database down, a bug...: delivered again
            failed.append(message)
            _failed(message, result, counts, errors)
        else:
            stored.append(message)
    if failed:
        connection.close()  # a broken connection must not poison the next batch
        close_old_connections()
    counts["processed"] += len(stored)
    return stored


def _failed(message: dict, exc: Exception, counts: dict, errors: list[str]) -> None:
    counts["failed"] += 1
    errors.append(f"failed {message.get('MessageId')}: {exc}")
    logger.error(
        "event queue: message %s failed; it will be delivered again",
        message.get("MessageId"),
        exc_info=exc,
    )


def _delete(client, queue_url: str, messages: list[dict]) -> None:
    """Delete the handled messages in one call (at most ten are received at a time). One
    that could not be deleted comes back after its visibility timeout and is processed
    again, which changes nothing (processing is idempotent)."""
    if not messages:
        return
    try:
        response = client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ],
        )
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "event queue: %s handled messages not deleted (%s); they will be delivered again",
            len(messages),
            exc,
        )
        return
    for failure in response.get("Failed", []):
        logger.warning(
            "event queue: message %s not deleted (%s: %s); it will be delivered again",
            messages[int(failure["Id"])].get("MessageId"),
            failure.get("Code"),
            failure.get("Message"),
        )


def _to_dead_letter(client, message) -> None:
    if not settings.AWS_HEALTH_DLQ_URL:
        logger.warning(
            "event queue: no AWS_HEALTH_DLQ_URL; malformed message dropped after logging"
        )
        return
    try:
        client.send_message(QueueUrl=settings.AWS_HEALTH_DLQ_URL, MessageBody=message["Body"])
    except (ClientError, BotoCoreError) as exc:
        logger.error("event queue: could not move a malformed message to the DLQ: %s", exc)


# While the database is down the consumer waits this long between checks.
DATABASE_RETRY_SECONDS = 5


def _check_database() -> None:
    """Raise DatabaseError unless the database answers. A connection it dropped (restart,
    failover) is replaced here, as Django does around each request; and nothing is
    received while it is down, so no message moves towards the dead-letter queue."""
    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def consume_forever(*, stop=lambda: False) -> None:
    """The long-running consumer (one process): long-polls until told to stop. AWS and
    database errors never end it: it waits and tries again; a message it received but
    could not store comes back after the queue's visibility timeout."""
    client = partner_client("sqs")
    while not stop():
        try:
            _check_database()
            consume_once(client=client)
        except (ClientError, BotoCoreError) as exc:
            logger.error("event queue: receive failed: %s; retrying in 10 s", exc)
            time.sleep(10)
        except DatabaseError as exc:
            logger.error(
                "event queue: database unavailable: %s; retrying in %s s",
                str(exc).strip(),
                DATABASE_RETRY_SECONDS,
            )
            connection.close()
            time.sleep(DATABASE_RETRY_SECONDS)
