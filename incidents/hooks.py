"""Alert webhooks: POST /hooks/alertmanager/, /hooks/grafana/, /hooks/alerts/ (generic).

Each integration has its own token, sent as ``Authorization: Bearer <token>`` (Alertmanager
``http_config.authorization``, Grafana's contact point header) or as ``?token=`` in the URL
for senders that cannot set headers. The body is checked, stored and queued for processing;
the answer (202) comes at once. A 5xx makes Alertmanager deliver again, so a database
outage answers 503; a body that can never be an alert answers 400 with the reason.
"""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import alerts
from .models import IntegrationKind

logger = logging.getLogger(__name__)


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _token(request) -> str:
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.GET.get("token", "")


def _receive(request, kind: str):
    integration = alerts.integration_for_token(_token(request), kind)
    if integration is None:
        logger.warning("alert hook %s: refused a request without a valid token", kind)
        return _error(401, "a valid integration token is required")
    if len(request.body) > settings.ALERT_WEBHOOK_MAX_BYTES:
        return _error(413, "body too large")
    try:
        body = alerts.body_from_request(request.body)
        parsed = alerts.parse_payload(integration, body)
    except alerts.AlertError as exc:
        logger.warning("alert hook %s (%s): rejected: %s", kind, integration.name, exc)
        return _error(400, str(exc))
    try:
        payload = alerts.payload_receive(integration=integration, body=body)
    except DatabaseError:
        logger.exception("alert hook %s: database error; the sender will retry", kind)
        return _error(503, "temporarily unavailable")
    return JsonResponse(
        {"status": "accepted", "payload": payload.pk, "alerts": len(parsed)}, status=202
    )


@csrf_exempt
@require_POST
def alertmanager_hook(request):
    return _receive(request, IntegrationKind.ALERTMANAGER)


@csrf_exempt
@require_POST
def grafana_hook(request):
    return _receive(request, IntegrationKind.GRAFANA)


@csrf_exempt
@require_POST
def generic_hook(request):
    return _receive(request, IntegrationKind.GENERIC)
