"""Notifications: configured chat/webhook channels and the log of every send."""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    SLACK = "slack", _("Slack incoming webhook")
    WEBHOOK = "webhook", _("Generic webhook")


class NotificationChannel(models.Model):
    """A Slack incoming webhook or a generic JSON webhook for staff notices."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"),
        max_length=10,
        choices=[
            (ChannelKind.SLACK, ChannelKind.SLACK.label),
            (ChannelKind.WEBHOOK, ChannelKind.WEBHOOK.label),
        ],
    )
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(
        _("events"),
        default=list,
        blank=True,
        help_text=_('Event names to send, e.g. ["ticket.created"]; empty sends every event.'),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def wants(self, event: str) -> bool:
        return self.is_active and (not self.events or event in self.events)


class NotificationLog(models.Model):
    """One notification to one recipient: what was sent, exactly, and how it went."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    channel = models.CharField(_("channel"), max_length=10, choices=ChannelKind.choices)
    channel_config = models.ForeignKey(
        NotificationChannel,
        verbose_name=_("configured channel"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    recipient = models.CharField(_("recipient"), max_length=500)
    template = models.CharField(_("template"), max_length=100)
    language = models.CharField(_("language"), max_length=10, blank=True)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    body = models.TextField(_("body"), blank=True)
    body_html = models.TextField(_("HTML body"), blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    message_id = models.CharField(
        _("Message-ID"), max_length=255, null=True, blank=True, unique=True
    )
    dedupe_key = models.CharField(
        _("dedupe key"), max_length=255, null=True, blank=True, unique=True
    )

    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    target = GenericForeignKey("content_type", "object_id")

    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notification log")
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="notification_target_idx")
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient}: {self.template} [{self.status}]"
