"""AWS Support case links, comment pushes (an outbox) and the record of every sync run."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SupportCase(models.Model):
    """An AWS Support case in a customer account, linked to the ticket that follows it."""

    ticket = models.OneToOneField(
        "tickets.Ticket",
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        related_name="support_case",
    )
    account = models.ForeignKey(
        "spt_portal.CustomerAWSAccount",
        verbose_name=_("AWS account"),
        on_delete=models.PROTECT,
        related_name="support_cases",
    )
    case_id = models.CharField(_("case id"), max_length=100, unique=True)
    display_id = models.CharField(_("display id"), max_length=50, blank=True)
    status = models.CharField(_("status"), max_length=50, blank=True)
    severity_code = models.CharField(_("severity"), max_length=20, blank=True)
    service_code = models.CharField(_("service"), max_length=100, blank=True)
    category_code = models.CharField(_("category"), max_length=100, blank=True)
    language = models.CharField(_("language"), max_length=5, blank=True)
    time_created = models.DateTimeField(_("opened at AWS"), null=True, blank=True)
    last_communication_at = models.DateTimeField(
        _("newest communication imported"), null=True, blank=True
    )
    last_synced_at = models.DateTimeField(_("last change synced"), null=True, blank=True)

    class Meta:
        ordering = ["-time_created"]
        verbose_name = _("AWS Support case")
        verbose_name_plural = _("AWS Support cases")

    def __str__(self) -> str:
        return self.display_id or self.case_id

    @property
    def is_resolved(self) -> bool:
        return self.status == "resolved"


class CasePush(models.Model):
    """A public comment waiting to be sent to its AWS case (AddCommunicationToCase).

    Written in the same transaction as the comment; a job sends it and retries with
    backoff, so nothing is lost when AWS or Redis is down. When the communication comes
    back in a poll it is matched here (by sender and time) instead of imported again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    comment = models.OneToOneField(
        "tickets.Comment",
        verbose_name=_("comment"),
        on_delete=models.CASCADE,
        related_name="aws_push",
    )
    case = models.ForeignKey(
        SupportCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="pushes"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    communication_key = models.CharField(
        _("matched communication"), max_length=128, blank=True, db_index=True
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("comment push to AWS")
        verbose_name_plural = _("comment pushes to AWS")

    def __str__(self) -> str:
        return f"{self.case} ← comment {self.comment_id} [{self.status}]"


class SyncRun(models.Model):
    """One sync run: SPT-005 (and SPT-006) evidence of what was checked and when."""

    class Kind(models.TextChoices):
        SUPPORT_POLL = "support_poll", _("AWS Support poll")
        SUPPORT_CASE = "support_case", _("AWS Support single case")
        HEALTH_POLL = "health_poll", _("AWS Health poll")
        HEALTH_QUEUE = "health_queue", _("AWS Health queue")

    class Outcome(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped (another poller holds the account)")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    account = models.ForeignKey(
        "spt_portal.CustomerAWSAccount",
        verbose_name=_("AWS account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sync_runs",
    )
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.RUNNING
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    cases_seen = models.PositiveIntegerField(_("cases seen"), default=0)
    tickets_created = models.PositiveIntegerField(_("tickets created"), default=0)
    comments_imported = models.PositiveIntegerField(_("comments imported"), default=0)
    comments_pushed = models.PositiveIntegerField(_("comments pushed"), default=0)
    errors = models.TextField(_("errors"), blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        indexes = [
            models.Index(
                fields=["account", "kind", "outcome", "-started_at"], name="syncrun_latest_idx"
            )
        ]

    def __str__(self) -> str:
        when = f"{self.started_at:%Y-%m-%d %H:%M}" if self.started_at else ""
        return f"{self.get_kind_display()} {self.account or ''} {when} {self.outcome}"


class HealthEvent(models.Model):
    """An AWS Health event, whichever path saw it first (EventBridge via SQS, or the poll)."""

    arn = models.CharField(_("event ARN"), max_length=500, unique=True)
    service = models.CharField(_("service"), max_length=100, blank=True)
    event_type_code = models.CharField(_("event type"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=40, blank=True)
    region = models.CharField(_("region"), max_length=40, blank=True)
    scope = models.CharField(_("scope"), max_length=40, blank=True)
    status = models.CharField(_("status"), max_length=20, blank=True)
    start_time = models.DateTimeField(_("start"), null=True, blank=True)
    end_time = models.DateTimeField(_("end"), null=True, blank=True)
    last_updated_time = models.DateTimeField(_("last updated at AWS"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    affected_accounts = models.JSONField(_("affected accounts"), default=list, blank=True)
    affected_entities = models.JSONField(_("affected resources"), default=list, blank=True)
    communication_ids = models.JSONField(_("communications seen"), default=list, blank=True)
    ticket = models.OneToOneField(
        "tickets.Ticket",
        verbose_name=_("event ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="health_event",
    )
    # The operations team's follow-up (seed 000, stages 2-6), ticked by engineers.
    assessed = models.BooleanField(_("impact assessed"), default=False)
    customers_contacted = models.BooleanField(_("customers contacted"), default=False)
    mitigation_advised = models.BooleanField(_("mitigation advised"), default=False)
    resources_recovered = models.BooleanField(
        _("customer resources confirmed recovered"), default=False
    )
    summary_written = models.BooleanField(_("summary written"), default=False)
    last_customer_update_at = models.DateTimeField(
        _("last update to customers"), null=True, blank=True
    )
    received_at = models.DateTimeField(_("first received"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-last_updated_time", "-id"]
        verbose_name = _("AWS Health event")
        verbose_name_plural = _("AWS Health events")

    def __str__(self) -> str:
        return f"{self.service} {self.event_type_code} ({self.status})"


class HealthEventCustomer(models.Model):
    """An affected customer of an event: their own ticket, notified once."""

    event = models.ForeignKey(
        HealthEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="customers"
    )
    customer = models.ForeignKey(
        "spt_portal.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    ticket = models.OneToOneField(
        "tickets.Ticket",
        verbose_name=_("customer ticket"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)
    closed_notice_at = models.DateTimeField(_("told it is over at"), null=True, blank=True)

    class Meta:
        verbose_name = _("affected customer")
        verbose_name_plural = _("affected customers")
        constraints = [
            models.UniqueConstraint(fields=["event", "customer"], name="health_customer_once")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.customer}"
