"""Logs: plain text (the default) or one JSON object per line (``LOG_FORMAT=json``,
python-json-logger), and one line per request with its request id.

Every record carries the id of the request it was written in (``request_id``), so the
lines of one request (and the job ids it queued) can be found together. Request lines name
the view and its route, never the raw path or query string (webhook tokens and signed
acknowledge links travel there), and no log line at INFO carries a message body.
"""

import contextvars
import logging
import re
import time
import uuid

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

logger = logging.getLogger("spt_portal.requests")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (empty outside a request)."""

    def filter(self, record):
        record.request_id = request_id.get()
        return True


def json_formatter():
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{asctime}{levelname}{name}{message}{request_id}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


class RequestLogMiddleware:
    """One INFO line per request: method, view, route, status, duration, user id and the
    request id (taken from a well-formed ``X-Request-ID`` header, else made up, and sent
    back in the response)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            user = getattr(request, "user", None)
            logger.info(
                "%s %s %s",
                request.method,
                match.view_name if match else "unmatched",
                response.status_code,
                extra={
                    "method": request.method,
                    "view": match.view_name if match else "unmatched",
                    "route": match.route if match else "",
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user_id": user.pk if user is not None and user.is_authenticated else None,
                },
            )
            response["X-Request-ID"] = rid
            return response
        finally:
            request_id.reset(token)
