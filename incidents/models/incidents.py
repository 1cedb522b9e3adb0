"""Incidents (seeds 002–004): a confirmed business impact, its lifecycle and timeline."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Level(models.TextChoices):
    P0 = "P0", _("P0 · emergency")
    P1 = "P1", _("P1 · high")
    P2 = "P2", _("P2 · medium")
    P3 = "P3", _("P3 · low")


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class IncidentStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("incident status", "Pending")
    IN_PROGRESS = "in_progress", _("In progress")
    RECOVERING = "recovering", _("Recovering")
    RECOVERED = "recovered", _("Recovered")
    PENDING_POSTMORTEM = "pending_postmortem", _("Pending postmortem")
    CLOSED = "closed", _("Closed")


OPEN_INCIDENT_STATUSES = (
    IncidentStatus.PENDING,
    IncidentStatus.IN_PROGRESS,
    IncidentStatus.RECOVERING,
)

# The one table of allowed changes (seed 004: 待确认 → 处理中 → 恢复中 → 已恢复 → 待复盘
# → 已关闭). A pending incident may be closed as a false alarm; a relapse goes back to
# in progress. P0/P1 cannot close before their postmortem (checked by the service).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    IncidentStatus.PENDING: (IncidentStatus.IN_PROGRESS, IncidentStatus.CLOSED),
    IncidentStatus.IN_PROGRESS: (IncidentStatus.RECOVERING, IncidentStatus.RECOVERED),
    IncidentStatus.RECOVERING: (IncidentStatus.RECOVERED, IncidentStatus.IN_PROGRESS),
    IncidentStatus.RECOVERED: (
        IncidentStatus.PENDING_POSTMORTEM,
        IncidentStatus.CLOSED,
        IncidentStatus.IN_PROGRESS,
    ),
    IncidentStatus.PENDING_POSTMORTEM: (IncidentStatus.CLOSED,),
    IncidentStatus.CLOSED: (),
}

POSTMORTEM_LEVELS = (Level.P0, Level.P1)

# Seed 002 speaks of priorities (low … urgent); incidents have levels.
PRIORITY_TO_LEVEL = {
    "urgent": Level.P0,
    "critical": Level.P0,
    "high": Level.P1,
    "medium": Level.P2,
    "low": Level.P3,
}


class IncidentSource(models.TextChoices):
    MANUAL = "manual", _("Manual")
    ALERT = "alert", _("Monitoring alert")
    API = "api", _("API")
    TICKET = "ticket", _("Customer ticket")
    MONITORING = "monitoring", _("Monitoring")


class Role(models.TextChoices):
    COMMANDER = "commander", _("Incident commander")
    TECH_LEAD = "tech_lead", _("Tech lead")
    COMMS_LEAD = "comms_lead", _("Communications lead")
    ON_CALL = "on_call", _("On-call engineer")


ROLE_FIELDS = {
    Role.COMMANDER: "commander",
    Role.TECH_LEAD: "tech_lead",
    Role.COMMS_LEAD: "comms_lead",
    Role.ON_CALL: "on_call_engineer",
}


def _person(verbose, related):
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=verbose,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name=related,
        limit_choices_to={"is_staff": True},
    )


class Incident(models.Model):
    number = models.CharField(_("number"), max_length=20, unique=True, null=True, editable=False)
    title = models.CharField(_("title"), max_length=500)
    description = models.TextField(_("description"), blank=True)
    level = models.CharField(_("level"), max_length=2, choices=Level.choices, default=Level.P2)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.MEDIUM
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=IncidentStatus.choices,
        default=IncidentStatus.PENDING,
        db_index=True,
    )
    category = models.CharField(_("category"), max_length=100, blank=True)
    subcategory = models.CharField(_("subcategory"), max_length=100, blank=True)
    service = models.CharField(
        _("affected service"),
        max_length=200,
        blank=True,
        db_index=True,
        help_text=_("The service or configuration item affected."),
    )
    source = models.CharField(
        _("source"), max_length=20, choices=IncidentSource.choices, default=IncidentSource.MANUAL
    )
    affected_customers = models.ManyToManyField(
        "spt_portal.Customer",
        verbose_name=_("affected customers"),
        blank=True,
        related_name="incidents",
    )
    tickets = models.ManyToManyField(
        "tickets.Ticket", verbose_name=_("linked tickets"), blank=True, related_name="incidents"
    )
    impact_analysis = models.TextField(_("impact analysis"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    resolution_steps = models.TextField(_("resolution steps"), blank=True)

    reporter = _person(_("reported by"), "+")
    commander = _person(_("incident commander"), "commanded_incidents")
    tech_lead = _person(_("tech lead"), "tech_led_incidents")
    comms_lead = _person(_("communications lead"), "comms_led_incidents")
    on_call_engineer = _person(_("on-call engineer"), "on_call_incidents")

    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)
    # When the first linked alert fired, kept by alert retention before it deletes the
    # alerts (postmortems.services.delete_old_alerts): MTTD outlives them. Until then the
    # alerts themselves answer (incidents.metrics).
    first_alert_at = models.DateTimeField(
        _("first alert fired at"), null=True, blank=True, editable=False
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    mitigated_at = models.DateTimeField(_("mitigated at"), null=True, blank=True)
    recovered_at = models.DateTimeField(_("recovered at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    respond_due_at = models.DateTimeField(_("response due"), null=True, blank=True)
    resolve_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    emergency_started_at = models.DateTimeField(
        _("emergency response started"), null=True, blank=True
    )

    # Escalation (Grafana OnCall's model): one active escalation per incident; a job whose
    # id is not the incident's active one is stale and exits quietly.
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    escalation_id = models.UUIDField(_("active escalation"), null=True, blank=True)
    next_escalation_at = models.DateTimeField(
        _("next escalation at"), null=True, blank=True, db_index=True
    )
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [
            models.Index(fields=["status", "level"], name="incident_status_level_idx"),
            models.Index(
                fields=["service"],
                condition=models.Q(status__in=["pending", "in_progress", "recovering"]),
                name="incident_open_service_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:incident_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INCIDENT_STATUSES

    @property
    def needs_postmortem(self) -> bool:
        return self.level in POSTMORTEM_LEVELS


class TimelineKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status")
    LEVEL = "level", _("Level")
    ROLE = "role", _("Role")
    ALERT = "alert", _("Alert")
    NOTE = "note", _("Note")
    ESCALATION = "escalation", _("Escalation")
    PAGE = "page", _("Page")
    COMMUNICATION = "communication", _("Communication")
    UPDATE = "update", _("Update")
    TICKET = "ticket", _("Ticket")
    RULE = "rule", _("Rule")
    POSTMORTEM = "postmortem", _("Postmortem")


class IncidentTimelineEntry(models.Model):
    """One moment of an incident: automatic for every change, or a note written by hand."""

    incident = models.ForeignKey(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="timeline"
    )
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=TimelineKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(_("text"))
    pinned = models.BooleanField(_("key moment"), default=False)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")

    def __str__(self) -> str:
        return f"{self.incident.number} {self.at:%Y-%m-%d %H:%M} {self.kind}"
