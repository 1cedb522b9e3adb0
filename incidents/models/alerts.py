"""Monitoring alerts coming in (seed 004 "告警管理"): integrations, raw payloads, alerts.

An *alert* is one problem reported by a monitoring system (Alertmanager, Grafana or a
generic JSON sender). It is not a *page*: pages go out about an incident (see paging.py).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", _("Prometheus Alertmanager")
    GRAFANA = "grafana", _("Grafana alerting")
    GENERIC = "generic", _("Generic JSON")


class AlertIntegration(models.Model):
    """A sender of alerts with its own secret token (stored hashed, shown once)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=IntegrationKind.choices)
    token_prefix = models.CharField(_("token prefix"), max_length=16, unique=True, editable=False)
    token_hash = models.CharField(_("token hash"), max_length=64, editable=False)
    service_label = models.CharField(
        _("service label"),
        max_length=100,
        default="service",
        help_text=_("The label naming the affected service; 'job' is used when it is absent."),
    )
    auto_create_incidents = models.BooleanField(
        _("open incidents for critical alerts"),
        default=True,
        help_text=_(
            "A critical alert with no open incident for its service opens a pending incident."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_received_at = models.DateTimeField(_("last received at"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("alert integration")
        verbose_name_plural = _("alert integrations")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class AlertPayload(models.Model):
    """A webhook body exactly as received: stored first, processed after (never lost)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")

    integration = models.ForeignKey(
        AlertIntegration,
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="payloads",
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    body = models.JSONField(_("body"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    alerts_new = models.PositiveIntegerField(_("new alerts"), default=0)
    alerts_repeated = models.PositiveIntegerField(_("repeats"), default=0)
    alerts_resolved = models.PositiveIntegerField(_("resolved"), default=0)
    error = models.TextField(_("error"), blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("alert payload")
        verbose_name_plural = _("alert payloads")
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(status="pending"),
                name="alertpayload_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration.name} #{self.pk} [{self.status}]"


class AlertLevel(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    MAJOR = "major", _("Major")
    HIGH = "high", _("High")
    WARNING = "warning", _("Warning")
    MINOR = "minor", _("Minor")
    INFO = "info", _("Info")


class AlertStatus(models.TextChoices):
    FIRING = "firing", _("Firing")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    IGNORED = "ignored", _("Ignored")
    LINKED = "linked", _("Linked to an incident")
    RESOLVED = "resolved", _("Resolved")


OPEN_ALERT_STATUSES = (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED, AlertStatus.LINKED)


class Alert(models.Model):
    """One alert episode: a fingerprint from the moment it started firing.

    ``dedupe_key`` (unique) is fingerprint + start time, so Alertmanager's repeated group
    snapshots and an HA pair's duplicates update one row instead of adding new ones.
    """

    integration = models.ForeignKey(
        AlertIntegration,
        verbose_name=_("integration"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    source = models.CharField(_("source"), max_length=100)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, db_index=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, unique=True)
    title = models.CharField(_("title"), max_length=500)
    description = models.TextField(_("description"), blank=True)
    level = models.CharField(
        _("level"), max_length=10, choices=AlertLevel.choices, default=AlertLevel.WARNING
    )
    status = models.CharField(
        _("status"), max_length=15, choices=AlertStatus.choices, default=AlertStatus.FIRING
    )
    service = models.CharField(_("service"), max_length=200, blank=True, db_index=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    group_key = models.CharField(_("group key"), max_length=500, blank=True, db_index=True)
    generator_url = models.URLField(_("source link"), max_length=2000, blank=True)
    starts_at = models.DateTimeField(_("fired at"))
    ends_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    first_received_at = models.DateTimeField(_("first received"), auto_now_add=True)
    last_received_at = models.DateTimeField(_("last received"), db_index=True)
    occurrences = models.PositiveIntegerField(_("occurrences"), default=1)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ignored_reason = models.CharField(_("reason for ignoring"), max_length=500, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        verbose_name=_("incident"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )

    class Meta:
        ordering = ["-last_received_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [
            models.Index(fields=["status", "level", "-last_received_at"], name="alert_queue_idx"),
            models.Index(fields=["source", "-last_received_at"], name="alert_source_idx"),
        ]

    def __str__(self) -> str:
        return f"[{self.get_level_display()}] {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ALERT_STATUSES
