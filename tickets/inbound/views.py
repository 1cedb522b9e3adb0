"""POST /hooks/ses/: SNS delivers SES receipts here. The signature is checked first."""

import json
import logging
import re
import urllib.request

from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import sns
from .service import InboundError, process_notification

logger = logging.getLogger(__name__)

MAX_BODY = 512 * 1024  # SNS messages are at most 256 KB


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


SUBSCRIBE_URL = re.compile(r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/\?")


def _confirm_subscription(message: dict) -> None:
    """GET the SubscribeURL (only after the signature and topic were verified)."""
    url = message.get("SubscribeURL", "")
    if not SUBSCRIBE_URL.match(url):
        raise sns.SNSError(f"SubscribeURL not on an SNS host: {url}")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - checked above
        response.read()


@csrf_exempt
@require_POST
def ses_webhook(request):
    if len(request.body) > MAX_BODY:
        return _error(413, "body too large")
    try:
        message = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body is not JSON")
    if not isinstance(message, dict):
        return _error(400, "body is not a JSON object")
    try:
        sns.verify(message)
    except sns.SNSError as exc:
        logger.warning("ses hook: rejected SNS message %s: %s", message.get("MessageId"), exc)
        return _error(403, f"rejected: {exc}")

    kind = message.get("Type")
    if kind == "SubscriptionConfirmation":
        try:
            _confirm_subscription(message)
        except (OSError, sns.SNSError) as exc:
            logger.warning("ses hook: could not confirm subscription: %s", exc)
            return _error(502, "could not confirm the subscription")
        logger.info("ses hook: subscription to %s confirmed", message.get("TopicArn"))
        return JsonResponse({"status": "subscription confirmed"})
    if kind == "UnsubscribeConfirmation":
        logger.warning("ses hook: unsubscribed from %s", message.get("TopicArn"))
        return JsonResponse({"status": "unsubscribe noted"})
    try:
        notification = json.loads(message.get("Message") or "")
    except ValueError:
        return _error(400, "SNS Message is not JSON")
    try:
        record = process_notification(notification)
    except InboundError as exc:
        logger.warning("ses hook: unusable notification %s: %s", message.get("MessageId"), exc)
        return _error(400, str(exc))
    except DatabaseError:
        logger.exception("ses hook: database error; SNS will deliver again")
        return _error(503, "temporarily unavailable")
    return JsonResponse(
        {
            "status": record.outcome,
            "ticket": record.ticket.number if record.ticket_id else None,
        }
    )
