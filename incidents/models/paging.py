"""Who is told, and how: the contact directory, pages about incidents, communications,
and measured values of an incident (seed 002's incident_alerts and incident_metrics)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .incidents import Incident, Level


class ContactRole(models.TextChoices):
    ON_CALL = "on_call", _("On-call engineer")
    TECH_LEAD = "tech_lead", _("Tech lead")
    OPS_LEAD = "ops_lead", _("Operations lead")
    PRODUCT_OWNER = "product_owner", _("Product owner")
    MANAGEMENT = "management", _("Management")
    DEVELOPER = "developer", _("Developer")


# Seed 003 "通知范围": who each level's emergency response reaches.
NOTIFY_SCOPES: dict[str, tuple[str, ...]] = {
    Level.P0: tuple(ContactRole.values),  # everyone relevant + management
    Level.P1: (
        ContactRole.ON_CALL,
        ContactRole.TECH_LEAD,
        ContactRole.OPS_LEAD,
        ContactRole.DEVELOPER,
        ContactRole.PRODUCT_OWNER,
    ),  # tech team + product owner
    Level.P2: (
        ContactRole.ON_CALL,
        ContactRole.TECH_LEAD,
        ContactRole.OPS_LEAD,
        ContactRole.DEVELOPER,
    ),  # tech team
    Level.P3: (ContactRole.DEVELOPER,),  # the developers concerned
}


class EmergencyContact(models.Model):
    """Seed 003 "紧急联系方式": a person (or a shared duty phone) for a role."""

    role = models.CharField(_("role"), max_length=20, choices=ContactRole.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="emergency_contacts",
        limit_choices_to={"is_staff": True},
        help_text=_("Leave empty for a shared number such as the duty phone."),
    )
    name = models.CharField(_("name"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    notify_by_sms = models.BooleanField(_("page by SMS"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["role", "position", "id"]
        verbose_name = _("emergency contact")
        verbose_name_plural = _("emergency contacts")

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.display_name}"

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return self.user.get_full_name() if self.user_id else self.email

    @property
    def contact_email(self) -> str:
        return self.email or (self.user.email if self.user_id else "")

    @property
    def contact_phone(self) -> str:
        return self.phone or (self.user.phone if self.user_id else "")


class PageKind(models.TextChoices):
    ON_CALL = "on_call", _("On-call page")
    ESCALATION = "escalation", _("Escalation")
    EMERGENCY = "emergency", _("Emergency response")
    MANUAL = "manual", _("Manual page")


class PageStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class PageChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    SLACK = "slack", _("Slack")
    WEBHOOK = "webhook", _("Webhook")


class Page(models.Model):
    """A page about an incident (seed 002's incident_alerts): channels, recipients, and
    whether somebody acknowledged it. Repeated until acknowledged (see paging.py)."""

    incident = models.ForeignKey(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="pages"
    )
    kind = models.CharField(_("type"), max_length=20, choices=PageKind.choices)
    name = models.CharField(_("name"), max_length=255)
    message = models.TextField(_("message"))
    severity = models.CharField(_("severity"), max_length=10, default="high")
    status = models.CharField(
        _("status"), max_length=15, choices=PageStatus.choices, default=PageStatus.ACTIVE
    )
    channels = models.JSONField(_("channels"), default=list)
    recipients = models.JSONField(
        _("recipients"), default=list, help_text=_("Email addresses and phone numbers.")
    )
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    triggered_at = models.DateTimeField(_("triggered at"), default=timezone.now)
    sends = models.PositiveSmallIntegerField(_("times sent"), default=0)
    next_repeat_at = models.DateTimeField(_("next repeat"), null=True, blank=True, db_index=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_via = models.CharField(_("acknowledged via"), max_length=254, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    class Meta:
        ordering = ["-triggered_at", "-id"]
        verbose_name = _("page")
        verbose_name_plural = _("pages")

    def __str__(self) -> str:
        return f"{self.incident.number}: {self.name} [{self.status}]"


class CommunicationKind(models.TextChoices):
    STARTED = "started", _("Incident started")
    UPDATE = "update", _("Status update")
    RESOLVED = "resolved", _("Resolved")


class Audience(models.TextChoices):
    INTERNAL = "internal", _("Internal (team channels and email)")
    EXTERNAL = "external", _("External (affected customers)")


class Communication(models.Model):
    """A message about an incident as it was sent (seed 003's templates, edited)."""

    incident = models.ForeignKey(
        Incident,
        verbose_name=_("incident"),
        on_delete=models.CASCADE,
        related_name="communications",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=CommunicationKind.choices)
    audience = models.CharField(_("audience"), max_length=10, choices=Audience.choices)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("message"))
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    recipients_count = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("incident communication")
        verbose_name_plural = _("incident communications")

    def __str__(self) -> str:
        return f"{self.incident.number}: {self.subject}"


class IncidentMetric(models.Model):
    """A measured value about an incident (seed 002's incident_metrics)."""

    incident = models.ForeignKey(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="metrics"
    )
    metric_type = models.CharField(_("metric type"), max_length=100)
    metric_name = models.CharField(_("metric name"), max_length=255)
    metric_value = models.DecimalField(_("value"), max_digits=16, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=50, blank=True)
    measured_at = models.DateTimeField(_("measured at"), default=timezone.now)
    tags = models.JSONField(_("tags"), default=dict, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    class Meta:
        ordering = ["measured_at", "id"]
        verbose_name = _("incident metric")
        verbose_name_plural = _("incident metrics")

    def __str__(self) -> str:
        return f"{self.metric_name} = {self.metric_value} {self.unit}"


class MetricQuery(models.Model):
    """A PromQL query evaluated over each incident's window (seed 002
    "CollectMetricsFromPrometheus"). ``$service`` in the query is replaced by the
    incident's affected service."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    promql = models.TextField(
        _("PromQL"), help_text=_("$service is replaced by the incident's affected service.")
    )
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    description = models.CharField(_("description"), max_length=300, blank=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("Prometheus query")
        verbose_name_plural = _("Prometheus queries")

    def __str__(self) -> str:
        return self.name
