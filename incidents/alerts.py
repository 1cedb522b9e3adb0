"""Alert ingestion (seed 004 "告警管理"): integration tokens, parsing, dedup, processing.

Webhook bodies are stored first (``AlertPayload``) and processed by a job, so a hook
answers at once and nothing is lost when a worker or the database hiccups: a payload that
failed to process stays pending and the sweep offers it again.

Deduplication:
- Alertmanager and Grafana send every alert of a group on every notification (a snapshot),
  at least once, and an HA pair sends each twice. An alert episode is its fingerprint plus
  its ``startsAt``; the fingerprint is the sender's, else a hash of the sorted labels. Our
  own hash of the labels is part of the key as well, so a sender that reuses a fingerprint
  for different label sets (seen in the wild) never merges two different alerts.
- Generic alerts carry ``fingerprint``, else one is made of source + title + labels; a
  repeat while the alert is open is the same alert.
- A repeat updates ``last_received_at`` and the count; ``resolved`` resolves and never
  opens anything; a resolved for an alert never seen is recorded as a resolved alert.
"""

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from spt_portal import outbox

from . import timeline
from .models import (
    OPEN_ALERT_STATUSES,
    OPEN_INCIDENT_STATUSES,
    Alert,
    AlertIntegration,
    AlertLevel,
    AlertPayload,
    AlertStatus,
    Incident,
    IncidentSource,
    IntegrationKind,
    TimelineKind,
)

logger = logging.getLogger(__name__)


class AlertError(ValueError):
    """Input that cannot be an alert: a 4xx at the edge, a logged reason in a job."""


# --- integrations and their tokens --------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def integration_create(
    *, name: str, kind: str, service_label: str = "service", auto_create_incidents: bool = True
) -> tuple[AlertIntegration, str]:
    """Create an integration; returns it and its token (shown once, stored hashed)."""
    if kind not in IntegrationKind.values:
        raise AlertError(f"unknown kind {kind!r}; one of {', '.join(IntegrationKind.values)}")
    if AlertIntegration.objects.filter(name=name).exists():
        raise AlertError(f"an integration named {name!r} exists already")
    integration = AlertIntegration(
        name=name,
        kind=kind,
        service_label=service_label or "service",
        auto_create_incidents=auto_create_incidents,
    )
    token = _new_token(integration)
    integration.save()
    return integration, token


def _new_token(integration: AlertIntegration) -> str:
    prefix = secrets.token_hex(6)
    token = f"alr_{prefix}_{secrets.token_urlsafe(32)}"
    integration.token_prefix = prefix
    integration.token_hash = _hash(token)
    return token


def integration_rotate_token(*, integration: AlertIntegration) -> str:
    token = _new_token(integration)
    integration.save(update_fields=["token_prefix", "token_hash"])
    return token


def integration_for_token(token: str, kind: str) -> AlertIntegration | None:
    """The active integration of ``kind`` this token belongs to (constant-time check)."""
    parts = (token or "").split("_")
    if len(parts) < 3 or parts[0] != "alr":
        return None
    integration = AlertIntegration.objects.filter(
        token_prefix=parts[1], is_active=True, kind=kind
    ).first()
    if integration is None or not hmac.compare_digest(integration.token_hash, _hash(token)):
        return None
    return integration


def api_integration() -> AlertIntegration:
    """The integration that alerts posted to /api/v1/alerts belong to (made on first use;
    its token is never shown: the API authenticates with API tokens)."""
    integration = AlertIntegration.objects.filter(name="api").first()
    if integration is None:
        try:
            with transaction.atomic():
                integration, _token = integration_create(name="api", kind=IntegrationKind.GENERIC)
        except (IntegrityError, AlertError):  # another request made it first
            integration = AlertIntegration.objects.get(name="api")
    return integration


# --- parsing -------------------------------------------------------------------------

LEVEL_WORDS = {
    AlertLevel.CRITICAL: {"critical", "crit", "fatal", "emergency", "disaster", "page", "p0", "p1"},
    AlertLevel.MAJOR: {"major", "severe", "error", "err", "p2"},
    AlertLevel.HIGH: {"high"},
    AlertLevel.WARNING: {"warning", "warn", "average", "p3"},
    AlertLevel.MINOR: {"minor", "low", "p4"},
    AlertLevel.INFO: {"info", "informational", "information", "none", "ok", "p5"},
}
_LEVEL_OF_WORD = {word: level for level, words in LEVEL_WORDS.items() for word in words}


def normalise_level(value, *, strict: bool = False) -> str:
    """'Critical', 'crit', 'P1' → critical ... ; unknown: warning (or AlertError if strict)."""
    word = str(value or "").strip().lower()
    level = _LEVEL_OF_WORD.get(word)
    if level is None:
        if strict:
            raise AlertError(f"unknown level {value!r}; one of {', '.join(sorted(_LEVEL_OF_WORD))}")
        return AlertLevel.WARNING
    return level


def labels_hash(labels: dict) -> str:
    """A stable hash of a label set (sorted by name), like Alertmanager's fingerprint."""
    canonical = "\x1f".join(f"{k}\x1e{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_time(value, *, name: str) -> datetime | None:
    """RFC 3339 with any precision (Alertmanager sends nanoseconds); the zero time (Go's
    '0001-01-01T00:00:00Z' for 'not ended') is None."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise AlertError(f"{name} is not a time: {value!r}")
    text = value.strip()
    if text.startswith("0001-01-01"):
        return None
    try:
        parsed = parse_datetime(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        parsed = None
    if parsed is None:
        # More than 6 fractional digits: drop the nanoseconds.
        head, dot, rest = text.partition(".")
        if dot:
            digits = "".join(ch for ch in rest if ch.isdigit())
            zone = rest[len(digits) :]
            try:
                parsed = parse_datetime(f"{head}.{digits[:6]}{zone}".replace("Z", "+00:00"))
            except ValueError:
                parsed = None
    if parsed is None:
        raise AlertError(f"{name} is not an RFC 3339 time: {value!r}")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


@dataclass
class ParsedAlert:
    status: str  # "firing" or "resolved"
    title: str
    description: str
    level: str
    source: str
    labels: dict
    annotations: dict = field(default_factory=dict)
    fingerprint: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""
    group_key: str = ""
    keyed_by_start: bool = True  # False: generic alerts dedupe on the open fingerprint


def _str_dict(value, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertError(f"{name} must be an object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _status(value) -> str:
    status = str(value or "firing").lower()
    if status not in ("firing", "resolved"):
        raise AlertError(f"status must be firing or resolved, not {value!r}")
    return status


def _web_url(value) -> str:
    """A sender's link back to its source, kept only when it is http(s) (never javascript:)."""
    url = str(value or "").strip()[:2000]
    return url if url.lower().startswith(("http://", "https://")) else ""


def parse_prometheus_style(body: dict, *, source: str) -> list[ParsedAlert]:
    """Alertmanager (version 4) and Grafana unified alerting share this shape."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise AlertError("the body must be an object with an 'alerts' list")
    group_key = str(body.get("groupKey") or "")[:500]
    common = _str_dict(body.get("commonAnnotations"), "commonAnnotations")
    parsed = []
    for index, raw in enumerate(body["alerts"]):
        if not isinstance(raw, dict):
            raise AlertError(f"alerts[{index}] is not an object")
        labels = _str_dict(raw.get("labels"), f"alerts[{index}].labels")
        annotations = {**common, **_str_dict(raw.get("annotations"), "annotations")}
        starts_at = parse_time(raw.get("startsAt"), name=f"alerts[{index}].startsAt")
        if starts_at is None:
            raise AlertError(f"alerts[{index}] has no startsAt")
        title = (
            annotations.get("summary")
            or labels.get("alertname")
            or annotations.get("title")
            or _("Alert")
        )
        parsed.append(
            ParsedAlert(
                status=_status(raw.get("status") or body.get("status")),
                title=title[:500],
                description=annotations.get("description")
                or annotations.get("message")
                or str(raw.get("valueString") or ""),
                level=normalise_level(labels.get("severity") or labels.get("level")),
                source=source,
                labels=labels,
                annotations=annotations,
                fingerprint=str(raw.get("fingerprint") or "")[:64] or labels_hash(labels),
                starts_at=starts_at,
                ends_at=parse_time(raw.get("endsAt"), name=f"alerts[{index}].endsAt"),
                generator_url=_web_url(raw.get("generatorURL")),
                group_key=group_key,
            )
        )
    return parsed


def parse_generic(body: dict, *, default_source: str = "api") -> ParsedAlert:
    """The seed's JSON: title, description, level, alert_source, fired_at, labels (plus
    optional fingerprint, status, annotations, generator_url)."""
    if not isinstance(body, dict):
        raise AlertError("the body must be a JSON object")
    title = str(body.get("title") or "").strip()
    if not title:
        raise AlertError("title is required")
    labels = _str_dict(body.get("labels"), "labels")
    source = str(body.get("alert_source") or body.get("source") or default_source)[:100]
    fingerprint = str(body.get("fingerprint") or "").strip()[:64]
    if not fingerprint:
        fingerprint = labels_hash({"\x00source": source, "\x00title": title, **labels})
    return ParsedAlert(
        status=_status(body.get("status")),
        title=title[:500],
        description=str(body.get("description") or ""),
        level=normalise_level(body.get("level") or "warning", strict=True),
        source=source,
        labels=labels,
        annotations=_str_dict(body.get("annotations"), "annotations"),
        fingerprint=fingerprint,
        starts_at=parse_time(body.get("fired_at"), name="fired_at"),
        ends_at=parse_time(body.get("resolved_at"), name="resolved_at"),
        generator_url=_web_url(body.get("generator_url")),
        keyed_by_start=False,
    )


def parse_payload(integration: AlertIntegration, body) -> list[ParsedAlert]:
    if integration.kind == IntegrationKind.ALERTMANAGER:
        return parse_prometheus_style(body, source="alertmanager")
    if integration.kind == IntegrationKind.GRAFANA:
        return parse_prometheus_style(body, source="grafana")
    if isinstance(body, dict) and isinstance(body.get("alerts"), list):
        return [parse_generic(item, default_source=integration.name) for item in body["alerts"]]
    return [parse_generic(body, default_source=integration.name)]


# --- storing and processing ---------------------------------------------------------


def payload_receive(*, integration: AlertIntegration, body) -> AlertPayload:
    """Store a webhook body and queue its processing (the hook's only synchronous work)."""
    with transaction.atomic():
        payload = AlertPayload.objects.create(integration=integration, body=body)
        AlertIntegration.objects.filter(pk=integration.pk).update(last_received_at=timezone.now())
        outbox.enqueue("incidents.jobs.process_alert_payload", payload.pk)
    return payload


def process_payload(payload_id: int) -> AlertPayload | None:
    """Process one stored payload (idempotent: a processed one is skipped). Each alert is
    upserted in its own savepoint; input errors mark the payload failed with the reason,
    database errors leave it pending for the sweep."""
    started = time.monotonic()
    with transaction.atomic():
        payload = (
            AlertPayload.objects.select_for_update()
            .select_related("integration")
            .filter(pk=payload_id)
            .first()
        )
        if payload is None or payload.status != AlertPayload.Status.PENDING:
            return payload
        try:
            parsed = parse_payload(payload.integration, payload.body)
        except AlertError as exc:
            payload.status = AlertPayload.Status.FAILED
            payload.error = str(exc)[:2000]
            payload.processed_at = timezone.now()
            payload.save(update_fields=["status", "error", "processed_at"])
            logger.warning("alert payload %s rejected: %s", payload.pk, exc)
            return payload
        counts = _upsert_all(parsed, payload.integration)
        payload.status = AlertPayload.Status.PROCESSED
        payload.alerts_new = counts["new"]
        payload.alerts_repeated = counts["repeat"]
        payload.alerts_resolved = counts["resolved"]
        payload.processed_at = timezone.now()
        payload.save(
            update_fields=[
                "status",
                "alerts_new",
                "alerts_repeated",
                "alerts_resolved",
                "processed_at",
            ]
        )
    logger.info(
        "alert payload %s from %s: %s new, %s repeats, %s resolved in %d ms",
        payload.pk,
        payload.integration.name,
        counts["new"],
        counts["repeat"],
        counts["resolved"],
        (time.monotonic() - started) * 1000,
    )
    return payload


def _dedupe_key(parsed: ParsedAlert) -> str:
    start = parsed.starts_at.astimezone(UTC).isoformat()
    return f"{parsed.fingerprint}:{labels_hash(parsed.labels)}:{start}"


def _service_of(parsed: ParsedAlert, integration: AlertIntegration | None) -> str:
    label = integration.service_label if integration else "service"
    return (parsed.labels.get(label) or parsed.labels.get("job") or "")[:200]


def alert_upsert(
    *, parsed: ParsedAlert, integration: AlertIntegration | None, now=None
) -> tuple[Alert, str]:
    """Create or update the alert; returns it and "new", "repeat" or "resolved"."""
    now = now or timezone.now()
    with transaction.atomic():
        if parsed.keyed_by_start:
            existing = Alert.objects.select_for_update().filter(dedupe_key=_dedupe_key(parsed))
        else:
            # Serialise generic senders per integration: "the open alert with this
            # fingerprint" is a read-then-write.
            if integration is not None:
                AlertIntegration.objects.select_for_update().filter(pk=integration.pk).first()
            existing = (
                Alert.objects.select_for_update(of=("self",))
                .filter(
                    integration=integration,
                    fingerprint=parsed.fingerprint,
                    status__in=OPEN_ALERT_STATUSES,
                )
                # An alert of an incident that is over is a past episode, even when its
                # sender never said "resolved": the same problem again is a new alert.
                .filter(Q(incident__isnull=True) | Q(incident__status__in=OPEN_INCIDENT_STATUSES))
                .order_by("-starts_at")
            )
        alert = existing.first()
        if alert is None:
            try:
                with transaction.atomic():
                    alert = _alert_create(parsed, integration, now)
            except IntegrityError:
                # A duplicate delivery processed at the same moment won the insert.
                alert = Alert.objects.select_for_update().get(dedupe_key=_dedupe_key(parsed))
            else:
                if alert.status == AlertStatus.RESOLVED:
                    return alert, "resolved"
                _open_incident_safely(alert, integration)
                return alert, "new"
        was_level = alert.level
        outcome = _alert_repeat(alert, parsed, now)
        if outcome == "repeat" and alert.level != was_level and alert.incident_id is None:
            _open_incident_safely(alert, integration)  # it became critical
        return alert, outcome


def _alert_create(parsed: ParsedAlert, integration, now) -> Alert:
    alert = _alert_build(parsed, integration, now)
    alert.save(force_insert=True)
    if alert.status == AlertStatus.RESOLVED:
        logger.info("alert %s: resolved before it was ever seen firing (recorded)", alert.pk)
    return alert


def _alert_build(parsed: ParsedAlert, integration, now) -> Alert:
    """The new alert for ``parsed``, not saved yet."""
    starts_at = parsed.starts_at or now
    resolved = parsed.status == "resolved"
    key = (
        _dedupe_key(parsed)
        if parsed.keyed_by_start
        else f"g:{parsed.fingerprint}:{now.isoformat()}:{secrets.token_hex(4)}"
    )
    return Alert(
        integration=integration,
        source=parsed.source,
        fingerprint=parsed.fingerprint,
        dedupe_key=key,
        title=parsed.title,
        description=parsed.description,
        level=parsed.level,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        service=_service_of(parsed, integration),
        labels=parsed.labels,
        annotations=parsed.annotations,
        group_key=parsed.group_key,
        generator_url=parsed.generator_url,
        starts_at=starts_at,
        ends_at=parsed.ends_at,
        last_received_at=now,
        resolved_at=(parsed.ends_at or now) if resolved else None,
    )


# What a repeat may change: its count and time always, the rest (from "annotations" on)
# when the sender says something new.
REPEAT_FIELDS = [
    "occurrences",
    "last_received_at",
    "annotations",
    "description",
    "level",
    "status",
    "resolved_at",
    "ends_at",
]


def _apply_repeat(alert: Alert, parsed: ParsedAlert, now) -> str:
    """Apply a repeated delivery to ``alert`` in memory (REPEAT_FIELDS); "repeat" or
    "resolved"."""
    alert.occurrences += 1
    alert.last_received_at = now
    alert.annotations = parsed.annotations or alert.annotations
    alert.description = parsed.description or alert.description
    if LEVEL_RANK[parsed.level] < LEVEL_RANK[alert.level] and alert.status != AlertStatus.RESOLVED:
        alert.level = parsed.level  # a warning that became critical is critical now
    if parsed.status == "resolved" and alert.status != AlertStatus.RESOLVED:
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = parsed.ends_at or now
        alert.ends_at = parsed.ends_at
        return "resolved"
    return "repeat"


def _record_resolution(alert: Alert) -> None:
    if alert.incident_id:
        timeline.record(
            alert.incident,
            kind=TimelineKind.ALERT,
            text=_("Alert resolved: %(title)s") % {"title": alert.title},
            data={"alert": alert.pk},
        )


def _alert_repeat(alert: Alert, parsed: ParsedAlert, now) -> str:
    outcome = _apply_repeat(alert, parsed, now)
    alert.save(update_fields=REPEAT_FIELDS)
    if outcome == "resolved":
        _record_resolution(alert)
    return outcome


def _upsert_all(parsed: list[ParsedAlert], integration) -> dict[str, int]:
    """Upsert a payload's alerts: the Alertmanager-style ones (keyed by fingerprint and start)
    in one read, one bulk insert and one bulk update; the rest, and anything the batch cannot
    settle (a key twice in one payload, an insert race), one by one through alert_upsert.
    Runs inside the caller's transaction."""
    counts = {"new": 0, "repeat": 0, "resolved": 0}
    now = timezone.now()
    keyed = [item for item in parsed if item.keyed_by_start]
    one_by_one = [item for item in parsed if not item.keyed_by_start]
    by_key: dict[str, ParsedAlert] = {}
    for item in keyed:
        key = _dedupe_key(item)
        if key in by_key:
            one_by_one.append(item)  # after the first one is stored
        else:
            by_key[key] = item
    existing = {
        alert.dedupe_key: alert
        for alert in Alert.objects.select_for_update().filter(dedupe_key__in=list(by_key))
    }
    fresh: list[Alert] = []
    repeated: list[tuple[Alert, str, str]] = []
    changed: list[Alert] = []  # a repeat that changed more than its count and time
    for key, item in by_key.items():
        alert = existing.get(key)
        if alert is None:
            fresh.append(_alert_build(item, integration, now))
        else:
            was = [getattr(alert, name) for name in REPEAT_FIELDS[2:]]
            was_level = alert.level
            repeated.append((alert, _apply_repeat(alert, item, now), was_level))
            if was != [getattr(alert, name) for name in REPEAT_FIELDS[2:]]:
                changed.append(alert)
    if fresh:
        try:
            with transaction.atomic():
                Alert.objects.bulk_create(fresh)
        except IntegrityError:
            # Another delivery stored some of them meanwhile: settle these one by one.
            one_by_one.extend(by_key[alert.dedupe_key] for alert in fresh)
            fresh = []
    if repeated:
        # Most repeats only count: one UPDATE for them all (bulk_update's CASE per field and
        # row was two thirds of a payload's time); the others through bulk_update.
        changed_ids = {alert.pk for alert in changed}
        plain = [alert.pk for alert, _o, _l in repeated if alert.pk not in changed_ids]
        if plain:
            Alert.objects.filter(pk__in=plain).update(
                occurrences=F("occurrences") + 1, last_received_at=now
            )
        if changed:
            Alert.objects.bulk_update(changed, REPEAT_FIELDS)
    for alert in fresh:
        if alert.status == AlertStatus.RESOLVED:
            counts["resolved"] += 1
            logger.info("alert %s: resolved before it was ever seen firing (recorded)", alert.pk)
        else:
            counts["new"] += 1
            _open_incident_safely(alert, integration)
    for alert, outcome, was_level in repeated:
        counts[outcome] += 1
        if outcome == "resolved":
            _record_resolution(alert)
        elif alert.level != was_level and alert.incident_id is None:
            _open_incident_safely(alert, integration)  # it became critical
    for item in one_by_one:
        _alert, outcome = alert_upsert(parsed=item, integration=integration, now=now)
        counts[outcome] += 1
    return counts


LEVEL_RANK = {level: rank for rank, level in enumerate(AlertLevel.values)}


def _open_incident_safely(alert: Alert, integration) -> None:
    """Open or join an incident; a failure there never loses the alert (it is kept, the
    reason logged, and engineers still see it firing on the alert list)."""
    from .paging import PagingError
    from .services import IncidentError

    if alert.level != AlertLevel.CRITICAL:
        return  # only critical alerts open incidents: no savepoint for the others
    try:
        with transaction.atomic():
            _maybe_open_incident(alert, integration)
    except (IncidentError, PagingError) as exc:
        logger.error("alert %s: could not open an incident: %s", alert.pk, exc)


def _maybe_open_incident(alert: Alert, integration: AlertIntegration | None) -> None:
    """A critical alert links to the open incident of its service, or opens a pending one
    (when its integration allows). The integration row is locked, so two critical alerts
    of one service arriving together open one incident."""
    from . import services

    if alert.level != AlertLevel.CRITICAL:
        return
    if integration is not None:
        integration = AlertIntegration.objects.select_for_update().get(pk=integration.pk)
        if not integration.auto_create_incidents:
            return
    service = alert.service
    open_incidents = Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES)
    incident = (
        open_incidents.filter(service=service).order_by("detected_at").first()
        if service
        else open_incidents.filter(alerts__title=alert.title).order_by("detected_at").first()
    )
    if incident is not None:
        services.incident_link_alerts(incident=incident, alerts=[alert], actor=None)
        return
    services.incident_create(
        title=alert.title,
        description=alert.description,
        level=services.level_for_alert(alert.level),
        service=service,
        source=IncidentSource.ALERT,
        alerts=[alert],
        actor=None,
    )


def retry_pending_payloads(older_than_seconds: int = 120) -> int:
    """Safety net (cron): offer again payloads whose processing job was lost or failed."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        AlertPayload.objects.filter(
            status=AlertPayload.Status.PENDING, received_at__lt=cutoff
        ).values_list("id", flat=True)[:500]
    )
    for payload_id in ids:
        outbox.enqueue("incidents.jobs.process_alert_payload", payload_id)
    if ids:
        logger.info("alert payloads: re-queued %s pending", len(ids))
    return len(ids)


# --- what engineers do with alerts --------------------------------------------------


@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor) -> Alert:
    """Firing → acknowledged (someone is looking). Other states are left as they are."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status != AlertStatus.FIRING:
        return alert
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = actor
    alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
    return alert


@transaction.atomic
def alert_ignore(*, alert: Alert, reason: str, actor) -> Alert:
    """Ignore an open alert that needs no action; the reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise AlertError(_("Say why the alert is ignored."))
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status not in (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED):
        raise AlertError(
            _("Only firing or acknowledged alerts can be ignored (this one is %(status)s).")
            % {"status": alert.get_status_display()}
        )
    alert.status = AlertStatus.IGNORED
    alert.ignored_reason = reason[:500]
    alert.acknowledged_by = alert.acknowledged_by or actor
    alert.acknowledged_at = alert.acknowledged_at or timezone.now()
    alert.save(update_fields=["status", "ignored_reason", "acknowledged_by", "acknowledged_at"])
    return alert


def _refuse_constant(name):
    raise ValueError(f"{name} is not allowed")


def body_from_request(raw: bytes):
    """The JSON body, refusing what the database could not store (NaN, NUL characters),
    so such a body is a 400 and not an endless retry."""
    if b"\x00" in raw or b"\\u0000" in raw:
        raise AlertError("the body contains NUL characters")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AlertError(f"the body is not JSON: {exc}") from exc
