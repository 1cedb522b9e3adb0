"""/api/v1/alerts and /api/v1/incidents (seeds 002 and 004), staff tokens only.

Seed 002 calls outgoing pages "incident alerts": they live under /api/v1/incidents/alerts;
monitoring alerts coming in live under /api/v1/alerts.
"""

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import PaginationBase, paginate

from spt_portal import access
from spt_portal.api import RowId, Strict, responses
from spt_portal.models import User

from . import alerts, metrics, paging, selectors, services
from .models import (
    PRIORITY_TO_LEVEL,
    Alert,
    Incident,
    IncidentSource,
    Level,
    Page,
    PageKind,
    PageStatus,
    Role,
)

alerts_router = Router(tags=["alerts"])
router = Router(tags=["incidents"])


def _staff(request) -> None:
    if not access.is_staff_user(request.user):
        raise PermissionDenied("Alerts and incidents are for staff tokens.")


def _writer(request) -> None:
    _staff(request)
    if not access.is_engineer_or_manager(request.user):
        raise PermissionDenied("This token is read-only.")


class Error(Schema):
    detail: str


class SizePagination(PaginationBase):
    """Seed 002's ``?page=1&size=10``."""

    class Input(Schema):
        page: int = Field(1, ge=1)
        size: int = Field(20, ge=1, le=200)

    class Output(Schema):
        items: list[Any]
        count: int
        page: int
        size: int

    def paginate_queryset(self, queryset, pagination: Input, **params):
        start = (pagination.page - 1) * pagination.size
        return {
            "items": list(queryset[start : start + pagination.size]),
            "count": queryset.count(),
            "page": pagination.page,
            "size": pagination.size,
        }


# --- alerts --------------------------------------------------------------------------


class AlertIn(Strict):
    title: str = Field(..., min_length=1, max_length=500)
    description: str = Field("", max_length=100_000)
    level: str = Field("warning", description="Critical, Major, High, Warning, Minor, Info")
    alert_source: str = Field("api", max_length=100)
    fired_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    fingerprint: str | None = Field(None, max_length=64)
    status: Literal["firing", "resolved"] = "firing"
    generator_url: str = Field("", max_length=2000)


class AlertOut(Schema):
    id: int
    fingerprint: str
    title: str
    description: str
    level: str
    status: str
    source: str
    service: str
    labels: dict
    occurrences: int
    starts_at: datetime
    first_received_at: datetime
    last_received_at: datetime
    resolved_at: datetime | None
    incident: str | None = Field(None, description="the linked incident's number")
    incident_id: int | None

    @staticmethod
    def resolve_incident(obj):
        return obj.incident.number if obj.incident_id else None


class AlertFilters(Schema):
    status: str | None = None
    level: str | None = None
    source: str | None = None
    fingerprint: str | None = None


@alerts_router.get("", response=responses(list[AlertOut], 403), summary="List alerts")
@paginate(SizePagination)
def list_alerts(request, filters: Query[AlertFilters]):
    _staff(request)
    queryset = Alert.objects.select_related("incident").order_by("-last_received_at", "-id")
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.level:
        queryset = queryset.filter(level=alerts.normalise_level(filters.level))
    if filters.source:
        queryset = queryset.filter(source__iexact=filters.source)
    if filters.fingerprint:
        queryset = queryset.filter(fingerprint=filters.fingerprint)
    return queryset


@alerts_router.post(
    "",
    response=responses({200: AlertOut, 201: AlertOut, 400: Error}, 403, 413),
    summary="Report an alert (seed 004's generic JSON)",
)
def create_alert(request, payload: AlertIn):
    _writer(request)
    body = payload.model_dump()
    body["fired_at"] = payload.fired_at.isoformat() if payload.fired_at else None
    try:
        parsed = alerts.parse_generic(body)
    except alerts.AlertError as exc:
        return Status(400, {"detail": str(exc)})
    alert, outcome = alerts.alert_upsert(parsed=parsed, integration=alerts.api_integration())
    alert = Alert.objects.select_related("incident").get(pk=alert.pk)
    return Status(201 if outcome == "new" else 200, alert)


@alerts_router.get("/{alert_id}", response=responses(AlertOut, 403, 404), summary="Read an alert")
def get_alert(request, alert_id: int):
    _staff(request)
    return get_object_or_404(Alert.objects.select_related("incident"), pk=alert_id)


# --- incidents -----------------------------------------------------------------------

LevelName = Literal["P0", "P1", "P2", "P3"]
PriorityName = Literal["urgent", "critical", "high", "medium", "low"]


class IncidentIn(Strict):
    title: str = Field(..., min_length=1, max_length=500)
    description: str = Field("", max_length=100_000)
    level: LevelName | None = None
    priority: PriorityName | None = Field(None, description="seed 002's name; mapped to a level")
    severity: Literal["critical", "high", "medium", "low"] | None = None
    category: str = Field("", max_length=100)
    subcategory: str = Field("", max_length=100)
    service: str = Field("", max_length=200)
    source: Literal["manual", "monitoring", "api", "alert", "ticket"] = "api"
    alert_ids: list[RowId] = Field(default_factory=list)


class IncidentUpdate(Strict):
    title: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = Field(None, max_length=100_000)
    status: str | None = None
    level: LevelName | None = None
    priority: PriorityName | None = None
    severity: Literal["critical", "high", "medium", "low"] | None = None
    category: str | None = Field(None, max_length=100)
    subcategory: str | None = Field(None, max_length=100)
    service: str | None = Field(None, max_length=200)
    impact_analysis: str | None = None
    root_cause: str | None = None
    resolution_steps: str | None = None
    assignee_id: int | None = Field(None, description="the on-call engineer (handler)")
    roles: dict[Literal["commander", "tech_lead", "comms_lead", "on_call"], int | None] | None = (
        None
    )


class IncidentOut(Schema):
    id: int
    number: str
    title: str
    description: str
    status: str
    level: str
    severity: str
    category: str
    subcategory: str
    service: str
    source: str
    escalation_level: int
    assignee_id: int | None = Field(None, description="the on-call engineer")
    roles: dict[str, str | None]
    alert_count: int = 0
    affected_customers: list[str]
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    recovered_at: datetime | None
    closed_at: datetime | None
    respond_due_at: datetime | None
    resolve_due_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_assignee_id(obj):
        return obj.on_call_engineer_id

    @staticmethod
    def resolve_roles(obj):
        return {
            "commander": obj.commander.email if obj.commander_id else None,
            "tech_lead": obj.tech_lead.email if obj.tech_lead_id else None,
            "comms_lead": obj.comms_lead.email if obj.comms_lead_id else None,
            "on_call": obj.on_call_engineer.email if obj.on_call_engineer_id else None,
        }

    @staticmethod
    def resolve_alert_count(obj):
        count = getattr(obj, "alert_count", None)
        return obj.alerts.count() if count is None else count

    @staticmethod
    def resolve_affected_customers(obj):
        return [c.short_code for c in obj.affected_customers.all()]


class IncidentFilters(Schema):
    status: str | None = None
    level: str | None = None
    priority: str | None = None
    service: str | None = None
    category: str | None = None
    search: str | None = None


def _incident(incident_id: int) -> Incident:
    return get_object_or_404(selectors.incidents_with_people(), pk=incident_id)


@router.get("", response=responses(list[IncidentOut], 403), summary="List incidents")
@paginate(SizePagination)
def list_incidents(request, filters: Query[IncidentFilters]):
    _staff(request)
    queryset = selectors.incidents_with_people().annotate(alert_count=Count("alerts"))
    level = filters.level or PRIORITY_TO_LEVEL.get((filters.priority or "").lower())
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if level:
        queryset = queryset.filter(level=level)
    if filters.service:
        queryset = queryset.filter(service=filters.service)
    if filters.category:
        queryset = queryset.filter(category=filters.category)
    if filters.search:
        queryset = selectors.search(queryset, filters.search)
    return queryset.order_by("-detected_at", "-id")


@router.post(
    "",
    response=responses({201: IncidentOut, 400: Error}, 403, 413),
    summary="Create an incident",
)
def create_incident(request, payload: IncidentIn):
    _writer(request)
    level = payload.level or PRIORITY_TO_LEVEL.get(payload.priority or "", Level.P2)
    found = list(Alert.objects.filter(pk__in=payload.alert_ids))
    if len(found) != len(set(payload.alert_ids)):
        return Status(400, {"detail": "Unknown alert ids."})
    try:
        incident = services.incident_create(
            title=payload.title,
            description=payload.description,
            level=level,
            severity=payload.severity,
            category=payload.category,
            subcategory=payload.subcategory,
            service=payload.service,
            source=IncidentSource(payload.source),
            alerts=found,
            actor=request.user,
        )
    except services.IncidentError as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, _incident(incident.pk))


class EscalateIn(Strict):
    incident_id: int
    escalation_level: int = Field(..., ge=1, le=10)
    reason: str = Field(..., min_length=1, max_length=2000)
    notify_users: list[RowId] = Field(default_factory=list)
    auto_assign: bool = False


@router.post(
    "/escalate",
    response=responses({200: IncidentOut, 400: Error}, 403, 404, 413),
    summary="Escalate an incident (seed 002)",
)
def escalate(request, payload: EscalateIn):
    _writer(request)
    incident = _incident(payload.incident_id)
    try:
        paging.incident_escalate(
            incident=incident,
            level=payload.escalation_level,
            reason=payload.reason,
            notify_users=payload.notify_users,
            auto_assign=payload.auto_assign,
            actor=request.user,
        )
    except (paging.PagingError, services.IncidentError) as exc:
        return Status(400, {"detail": str(exc)})
    return _incident(incident.pk)


class MonitoringIn(Strict):
    start_time: datetime
    end_time: datetime
    category: str | None = None


@router.post(
    "/monitoring",
    response=responses({200: dict, 400: Error}, 403, 413),
    summary="Incident statistics",
)
def monitoring(request, payload: MonitoringIn):
    """Seed 002 "获取监控数据": counts by status and level, MTTD/MTTA/MTTR and metrics of
    the incidents detected in the window."""
    _staff(request)
    start, end = (
        t if timezone.is_aware(t) else timezone.make_aware(t, timezone.get_current_timezone())
        for t in (payload.start_time, payload.end_time)
    )
    if end <= start:
        return Status(400, {"detail": "end_time must be after start_time."})
    return metrics.window_summary(start=start, end=end, category=payload.category)


# --- pages (seed 002's "incident alerts") -----------------------------------------------


class PageIn(Strict):
    incident_id: int
    alert_type: Literal["on_call", "escalation", "emergency", "manual"] = "manual"
    alert_name: str = Field(..., min_length=1, max_length=255)
    message: str = Field(..., min_length=1, max_length=10_000)
    severity: str = Field("high", max_length=10)
    channels: list[Literal["email", "sms", "slack", "webhook"]] = Field(
        default_factory=lambda: ["email"]
    )
    recipients: list[str] = Field(default_factory=list, max_length=100)


class PageOut(Schema):
    id: int
    incident_id: int
    incident: str
    alert_type: str
    alert_name: str
    message: str
    severity: str
    status: str
    channels: list
    recipients: list
    escalation_level: int
    sends: int
    triggered_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None

    @staticmethod
    def resolve_incident(obj):
        return obj.incident.number

    @staticmethod
    def resolve_alert_type(obj):
        return obj.kind

    @staticmethod
    def resolve_alert_name(obj):
        return obj.name

    @staticmethod
    def resolve_acknowledged_by(obj):
        if obj.acknowledged_by_id:
            return obj.acknowledged_by.email
        return obj.acknowledged_via or None


def _page(page_id: int) -> Page:
    return get_object_or_404(Page.objects.select_related("incident", "acknowledged_by"), pk=page_id)


@router.post(
    "/alerts",
    response=responses({201: PageOut, 400: Error}, 403, 404, 413),
    summary="Page people",
)
def create_page(request, payload: PageIn):
    _writer(request)
    incident = _incident(payload.incident_id)
    page = paging.page_create(
        incident=incident,
        kind=PageKind(payload.alert_type),
        name=payload.alert_name,
        message=payload.message,
        severity=payload.severity,
        channels=payload.channels,
        recipients=payload.recipients,
        actor=request.user,
    )
    if page is None:
        return Status(400, {"detail": "Nobody to page: give recipients or a chat channel."})
    return Status(201, _page(page.pk))


@router.get("/alerts/active", response=responses(list[PageOut], 403), summary="Active pages")
@paginate(SizePagination)
def active_pages(request):
    _staff(request)
    return (
        Page.objects.filter(status=PageStatus.ACTIVE)
        .select_related("incident", "acknowledged_by")
        .order_by("-triggered_at", "-id")
    )


@router.post(
    "/alerts/{page_id}/acknowledge",
    response=responses(PageOut, 403, 404),
    summary="Acknowledge a page",
)
def acknowledge_page(request, page_id: int):
    _writer(request)
    page = paging.page_acknowledge(page=_page(page_id), actor=request.user)
    return _page(page.pk)


@router.post(
    "/alerts/{page_id}/resolve", response=responses(PageOut, 403, 404), summary="Resolve a page"
)
def resolve_page(request, page_id: int):
    _writer(request)
    page = paging.page_resolve(page=_page(page_id), actor=request.user)
    return _page(page.pk)


# --- one incident (after the fixed paths above) ----------------------------------------


@router.get("/{incident_id}", response=responses(IncidentOut, 403, 404), summary="Read an incident")
def get_incident(request, incident_id: int):
    _staff(request)
    return _incident(incident_id)


@router.put(
    "/{incident_id}",
    response=responses({200: IncidentOut, 400: Error}, 403, 404, 413),
    summary="Update an incident",
)
def update_incident(request, incident_id: int, payload: IncidentUpdate):
    _writer(request)
    incident = _incident(incident_id)
    data = payload.model_dump(exclude_unset=True)
    try:
        _apply_update(request, incident, data)
    except services.IncidentError as exc:
        return Status(400, {"detail": str(exc)})
    return _incident(incident.pk)


@transaction.atomic
def _apply_update(request, incident, data) -> None:
    """All of an update or none of it: an error rolls back the parts already applied."""
    details = {k: data[k] for k in services.DETAIL_FIELDS if k in data}
    if details:
        services.incident_update_details(incident=incident, actor=request.user, **details)
    level = data.get("level") or PRIORITY_TO_LEVEL.get(data.get("priority") or "")
    if level:
        services.incident_change_level(incident=incident, level=level, actor=request.user)
    roles = dict(data.get("roles") or {})
    if "assignee_id" in data:
        roles["on_call"] = data["assignee_id"]
    for role, user_id in roles.items():
        user = get_object_or_404(User, pk=user_id) if user_id else None
        services.incident_assign_role(
            incident=incident, role=Role(role), user=user, actor=request.user
        )
    if data.get("status"):
        services.incident_change_status(
            incident=incident, status=data["status"], actor=request.user
        )


@router.delete(
    "/{incident_id}", response=responses({405: Error}, 403, 404), summary="(not allowed)"
)
def delete_incident(request, incident_id: int):
    _writer(request)
    _incident(incident_id)
    return Status(
        405, {"detail": "Incidents are kept as evidence; close one with PUT status=closed."}
    )


@router.get("/{incident_id}/impact", response=responses(dict, 403, 404), summary="Impact analysis")
def impact(request, incident_id: int):
    """Seed 002 "分析事件影响": duration, affected customers and tickets, alerts by level,
    services, and whether the level's targets were met."""
    _staff(request)
    return metrics.impact_of(_incident(incident_id), now=timezone.now())


@router.get(
    "/{incident_id}/timeline",
    response=responses(list[dict], 403, 404),
    summary="The incident's timeline",
)
def incident_timeline(request, incident_id: int):
    _staff(request)
    incident = _incident(incident_id)
    return [
        {
            "at": entry.at,
            "kind": entry.kind,
            "author": entry.author.email if entry.author_id else None,
            "text": entry.text,
            "pinned": entry.pinned,
        }
        for entry in incident.timeline.select_related("author")
    ]


class CollectedSeries(Schema):
    query: str
    series: int
    error: str
    dropped: int


@router.post(
    "/{incident_id}/metrics/collect",
    response=responses(list[CollectedSeries], 403, 404),
    summary="Collect the incident's metrics from Prometheus (seed 002)",
)
def collect_metrics(request, incident_id: int):
    """Runs the active Prometheus queries over the incident's window; each query's
    outcome (series kept, or Prometheus's error) is returned; errors are never fatal."""
    from . import prometheus

    _writer(request)
    outcomes = prometheus.collect(_incident(incident_id), actor=request.user, budget=20)
    return [
        {"query": o.query, "series": o.series, "error": o.error, "dropped": o.dropped}
        for o in outcomes
    ]


@router.get(
    "/{incident_id}/metrics",
    response=responses(list[dict], 403, 404),
    summary="The incident's metrics",
)
def incident_metrics(request, incident_id: int):
    _staff(request)
    return [
        {
            "type": m.metric_type,
            "name": m.metric_name,
            "value": float(m.metric_value),
            "unit": m.unit,
            "measured_at": m.measured_at,
            "tags": m.tags,
            "points": (m.metadata or {}).get("points", []),
        }
        for m in _incident(incident_id).metrics.all()
    ]
