"""The notification service used by every app: email, SMS, Slack and generic webhooks.

A notification is rendered when it is created and stored in ``NotificationLog`` exactly
as it will be sent (auditors see the very email a customer got), then delivered by the
``deliver_notification`` job on the ``notifications`` queue through the job outbox. A
failed channel never blocks the write that caused it; the job retries with backoff and
records every attempt. ``dedupe_key`` makes a repeated request send nothing twice.
"""

import json
import logging
import urllib.request
import zoneinfo
from datetime import timedelta
from email.utils import make_msgid

import django.dispatch
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from . import outbox
from .models import ChannelKind, NotificationChannel, NotificationLog
from .sms import SMSError, get_provider

logger = logging.getLogger(__name__)

# Sent after a notification was delivered: receivers put it on their object's timeline.
notification_delivered = django.dispatch.Signal()  # args: log


def _target(obj):
    if obj is None:
        return {}
    return {"content_type": ContentType.objects.get_for_model(obj), "object_id": obj.pk}


def _create(**fields) -> NotificationLog | None:
    """Create the log row and its delivery job; None when the dedupe key was seen before."""
    key = fields.get("dedupe_key")
    if not key:
        log = NotificationLog.objects.create(**fields)
    else:
        # The unique key decides (no look-up first: a repeat is the rare case, and a look-up
        # would not stop a concurrent twin anyway).
        try:
            with transaction.atomic():
                log = NotificationLog.objects.create(**fields)
        except IntegrityError:
            return None
    outbox.enqueue("spt_portal.jobs.deliver_notification", log.pk, queue="notifications")
    return log


def new_message_id() -> str:
    return make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)


def notify_email(
    *,
    to: str,
    template: str,
    context: dict,
    language: str,
    obj=None,
    dedupe_key: str | None = None,
    headers: dict | None = None,
    automatic: bool = True,
    tz: str = "",
    attachments: list[dict] | None = None,
) -> NotificationLog | None:
    """Render ``notifications/<template>.{subject.txt,txt,html}`` in ``language``, record it
    and queue it. Our own Message-ID is recorded (for threading replies). ``attachments``
    are small text files kept with the log: [{"filename", "content", "mimetype"}]."""
    if not to:
        return None
    with (
        translation.override(language or settings.LANGUAGE_CODE),
        timezone.override(zoneinfo.ZoneInfo(tz or settings.TIME_ZONE)),
    ):
        context = {**context, "site_url": settings.SITE_URL, "language": language}
        subject = " ".join(
            render_to_string(f"notifications/{template}.subject.txt", context).split()
        )
        body = render_to_string(f"notifications/{template}.txt", context)
        body_html = render_to_string(f"notifications/{template}.html", context)
    message_id = new_message_id()
    all_headers = {"Reply-To": settings.SUPPORT_EMAIL_ADDRESS, **(headers or {})}
    if automatic:
        # RFC 3834: automatic notices say so, so that auto-responders do not answer them.
        all_headers.setdefault("Auto-Submitted", "auto-replied")
    return _create(
        channel=ChannelKind.EMAIL,
        recipient=to,
        template=template,
        language=language,
        subject=subject[:500],
        body=body,
        body_html=body_html,
        payload={"headers": all_headers, "attachments": attachments or []},
        message_id=message_id,
        dedupe_key=dedupe_key,
        **_target(obj),
    )


def notify_sms(
    *, phone: str, template_id: str, params: dict, obj=None, dedupe_key=None
) -> NotificationLog | None:
    if not phone:
        return None
    return _create(
        channel=ChannelKind.SMS,
        recipient=phone,
        template=template_id,
        payload={"params": params},
        body=json.dumps(params, ensure_ascii=False),
        dedupe_key=dedupe_key,
        **_target(obj),
    )


def notify_channels(*, event: str, text: str, data: dict, obj=None, dedupe_key=None) -> int:
    """Post to every active Slack / webhook channel that wants ``event``. Returns the count."""
    sent = 0
    for channel in NotificationChannel.objects.filter(is_active=True):
        if not channel.wants(event):
            continue
        log = _create(
            channel=channel.kind,
            channel_config=channel,
            recipient=channel.url,
            template=event,
            body=text,
            payload={"event": event, "text": text, "data": data},
            dedupe_key=f"{dedupe_key}:{channel.pk}" if dedupe_key else None,
            **_target(obj),
        )
        sent += log is not None
    return sent


def notify_webhook(*, url: str, payload: dict, obj=None, dedupe_key=None) -> NotificationLog | None:
    """POST ``payload`` as JSON to one URL (delivered and retried like every notice)."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    return _create(
        channel=ChannelKind.WEBHOOK,
        recipient=url[:500],
        template=str(payload.get("event", "webhook"))[:100],
        body=json.dumps(payload, ensure_ascii=False, default=str)[:10000],
        payload=json.loads(json.dumps(payload, default=str)),
        dedupe_key=dedupe_key,
        **_target(obj),
    )


# --- delivery ----------------------------------------------------------------------


def _send_email(log: NotificationLog) -> None:
    headers = dict(log.payload.get("headers", {}))
    headers["Message-ID"] = log.message_id
    message = EmailMultiAlternatives(
        subject=log.subject,
        body=log.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[log.recipient],
        headers=headers,
    )
    if log.body_html:
        message.attach_alternative(log.body_html, "text/html")
    for item in log.payload.get("attachments", []):
        message.attach(item["filename"], item["content"], item.get("mimetype", "text/plain"))
    message.send(fail_silently=False)


def _post_json(url: str, payload: dict) -> None:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=json.dumps(payload, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "spt-portal"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        if response.status >= 300:
            raise OSError(f"HTTP {response.status}")


def _send(log: NotificationLog) -> None:
    if log.channel == ChannelKind.EMAIL:
        _send_email(log)
    elif log.channel == ChannelKind.SMS:
        get_provider().send(
            phone=log.recipient, template_id=log.template, params=log.payload.get("params", {})
        )
    elif log.channel == ChannelKind.SLACK:
        _post_json(log.recipient, {"text": log.body})
    elif log.channel == ChannelKind.WEBHOOK:
        _post_json(log.recipient, log.payload)
    else:
        raise ValueError(f"unknown channel {log.channel}")


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def deliver(log_id: int) -> str:
    """Send one notification (idempotent: a sent one is not sent again). On failure the
    error is recorded and the delivery is scheduled again with backoff, up to
    NOTIFICATION_MAX_ATTEMPTS; then it stays failed, visible in the admin."""
    with transaction.atomic():
        log = NotificationLog.objects.select_for_update().filter(pk=log_id).first()
        if log is None or log.status == NotificationLog.Status.SENT:
            return "skipped"
        log.attempts += 1
        try:
            _send(log)
        except (OSError, SMSError, ValueError) as exc:
            log.error = f"{type(exc).__name__}: {exc}"[:2000]
            give_up = log.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
            log.status = (
                NotificationLog.Status.FAILED if give_up else NotificationLog.Status.PENDING
            )
            log.save(update_fields=["attempts", "error", "status"])
            logger.warning(
                "notification %s (%s to %s) failed, attempt %s%s: %s",
                log.pk,
                log.channel,
                log.recipient,
                log.attempts,
                ", giving up" if give_up else "",
                exc,
            )
            if not give_up:
                transaction.on_commit(lambda: _schedule_retry(log.pk, log.attempts))
            return "failed"
        log.status = NotificationLog.Status.SENT
        log.sent_at = timezone.now()
        log.error = ""
        log.save(update_fields=["attempts", "status", "sent_at", "error"])
        notification_delivered.send(sender=NotificationLog, log=log)
    logger.info("notification %s sent: %s to %s", log.pk, log.channel, log.recipient)
    return "sent"


def _schedule_retry(log_id: int, attempts: int) -> None:
    from redis.exceptions import RedisError

    from .queues import get_queue

    try:
        queue = get_queue("notifications")
        if queue.is_async:
            queue.enqueue_in(retry_delay(attempts), "spt_portal.jobs.deliver_notification", log_id)
    except (RedisError, OSError) as exc:
        # The sweep (retry_pending_notifications) picks it up later.
        logger.warning("notification %s: could not schedule a retry: %s", log_id, exc)


def retry_pending(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Safety net (cron): re-queue pending notifications whose job was lost."""
    cutoff = timezone.now() - older_than
    ids = list(
        NotificationLog.objects.filter(
            status=NotificationLog.Status.PENDING, created_at__lt=cutoff
        ).values_list("id", flat=True)[:500]
    )
    for log_id in ids:
        outbox.enqueue("spt_portal.jobs.deliver_notification", log_id, queue="notifications")
    if ids:
        logger.info("notifications: re-queued %s pending deliveries", len(ids))
    return len(ids)
