"""Reads for incident pages and the API: staff only (customers see notices, not incidents)."""

from django.db.models import Count, Min, Q, QuerySet

from .models import Alert, Incident, IncidentStatus

PEOPLE = ("commander", "tech_lead", "comms_lead", "on_call_engineer")
BOARD_CLOSED_LIMIT = 20


def incidents_with_people() -> QuerySet[Incident]:
    return Incident.objects.select_related(*PEOPLE).prefetch_related("affected_customers")


def search(queryset: QuerySet, text: str) -> QuerySet:
    text = text.strip()
    if not text:
        return queryset
    return queryset.filter(Q(number__iexact=text) | Q(title__icontains=text))


def board_columns(*, level: str = "", service: str = "") -> list[tuple[str, str, list]]:
    """The kanban: one column per state, cards with people and alert counts; the closed
    column shows the latest few only. Two queries whatever the number of cards."""
    queryset = (
        Incident.objects.select_related(*PEOPLE)
        .annotate(alert_count=Count("alerts"))
        .order_by("level", "-detected_at")
    )
    if level:
        queryset = queryset.filter(level=level)
    if service:
        queryset = queryset.filter(service=service)
    open_cards = list(queryset.exclude(status=IncidentStatus.CLOSED))
    closed = list(
        queryset.filter(status=IncidentStatus.CLOSED).order_by("-closed_at", "-id")[
            :BOARD_CLOSED_LIMIT
        ]
    )
    columns = []
    for status in IncidentStatus:
        cards = (
            closed
            if status == IncidentStatus.CLOSED
            else [card for card in open_cards if card.status == status]
        )
        columns.append((status.value, status.label, cards))
    return columns


def alerts_for_list(params) -> QuerySet[Alert]:
    """The /ops/alerts list with its filters (status, level, source, service, group, q)."""
    queryset = Alert.objects.select_related("incident", "integration").order_by(
        "-last_received_at", "-id"
    )
    if params.get("status") == "all":
        pass
    elif params.get("status"):
        queryset = queryset.filter(status=params["status"])
    else:
        queryset = queryset.exclude(status__in=["resolved", "ignored"])
    if params.get("level"):
        queryset = queryset.filter(level=params["level"])
    if params.get("source"):
        queryset = queryset.filter(source=params["source"])
    if params.get("service"):
        queryset = queryset.filter(service=params["service"])
    if params.get("group"):
        queryset = queryset.filter(group_key=params["group"])
    if params.get("q"):
        queryset = queryset.filter(
            Q(title__icontains=params["q"]) | Q(fingerprint=params["q"].strip())
        )
    return queryset


def first_alert_times(incident_ids) -> dict[int, object]:
    return dict(
        Alert.objects.filter(incident_id__in=list(incident_ids))
        .values("incident_id")
        .annotate(first=Min("starts_at"))
        .values_list("incident_id", "first")
    )
