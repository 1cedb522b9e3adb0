"""Tickets (SPT-003): the ticket, its conversation, attachments and timeline."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sla.models import BusinessCalendar, Priority, SLAPolicyVersion


class Status(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING_CUSTOMER = "waiting_customer", _("Waiting for customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS, Status.WAITING_CUSTOMER)

# The one table of allowed status changes. Reopening (resolved/closed -> in_progress) is
# also subject to the reopen window, checked by the service.
TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED},
    Status.IN_PROGRESS: {Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED},
    Status.WAITING_CUSTOMER: {Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED},
    Status.RESOLVED: {Status.CLOSED, Status.IN_PROGRESS},
    Status.CLOSED: {Status.IN_PROGRESS},
}


class Source(models.TextChoices):
    WEB = "web", _("Web portal")
    EMAIL = "email", _("Email")
    API = "api", _("API")
    PHONE = "phone", _("Phone")
    AWS_SUPPORT = "aws_support", _("AWS Support")
    AWS_HEALTH = "aws_health", _("AWS Health")
    ALERT = "alert", _("Monitoring alert")


# What the SLA breach scan reads (tickets/sla.py): open tickets whose running clock's
# deadline has not been escalated yet. Its indexes carry the same conditions.
SCAN_RESPONSE = models.Q(
    ~models.Q(first_response_escalated_for=models.F("first_response_due_at")),
    status__in=["new", "in_progress", "waiting_customer"],
    first_responded_at__isnull=True,
)
SCAN_RESOLUTION = models.Q(
    ~models.Q(resolution_escalated_for=models.F("resolution_due_at")),
    status__in=["new", "in_progress"],
)


class Ticket(models.Model):
    # Set explicitly by ticket_create, so the SLA due times are exact offsets from it.
    number = models.CharField(_("number"), max_length=20, unique=True, null=True, editable=False)
    customer = models.ForeignKey(
        "spt_portal.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
        help_text=_("Empty for internal tickets that only staff see."),
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requester"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requested_tickets",
    )
    title = models.CharField(_("title"), max_length=500)
    description = models.TextField(_("description"), blank=True)
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.MEDIUM
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    category = models.ForeignKey(
        "spt_portal.Skill",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    cc_contacts = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("CC contacts"),
        blank=True,
        related_name="cc_tickets",
    )
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, editable=False, db_index=True
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    first_responded_at = models.DateTimeField(_("first responded at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    sla_policy = models.ForeignKey(
        SLAPolicyVersion,
        verbose_name=_("SLA policy version"),
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    sla_calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("SLA calendar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
        help_text=_("Empty: the clocks run 24x7."),
    )
    first_response_due_at = models.DateTimeField(_("first response due"), db_index=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), db_index=True)
    first_response_at_risk_at = models.DateTimeField(
        _("first response at risk from"), null=True, blank=True
    )
    resolution_at_risk_at = models.DateTimeField(
        _("resolution at risk from"), null=True, blank=True
    )
    # The deadline of each clock whose escalation (the last SLA alert) has been raised:
    # the breach scan leaves the ticket alone until that deadline changes (tickets/sla.py).
    first_response_escalated_for = models.DateTimeField(
        _("first response escalated for deadline"), null=True, blank=True, editable=False
    )
    resolution_escalated_for = models.DateTimeField(
        _("resolution escalated for deadline"), null=True, blank=True, editable=False
    )
    paused_at = models.DateTimeField(
        _("SLA paused since"),
        null=True,
        blank=True,
        help_text=_("The resolution clock is paused while the ticket waits for the customer."),
    )
    paused_minutes = models.FloatField(_("minutes paused"), default=0)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    follow_up_of = models.ForeignKey(
        "self",
        verbose_name=_("follow-up of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
        help_text=_("The closed ticket this one continues."),
    )

    aws_case_id = models.CharField(
        _("AWS case id"), max_length=100, null=True, blank=True, unique=True
    )
    aws_case_status = models.CharField(_("AWS case status"), max_length=50, blank=True)
    aws_case_subject = models.CharField(_("AWS case subject"), max_length=500, blank=True)
    aws_case_severity = models.CharField(_("AWS case severity"), max_length=20, blank=True)
    aws_health_event_arn = models.CharField(
        _("AWS Health event ARN"), max_length=255, null=True, blank=True, unique=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # The SLA scan reads open tickets whose current deadlines are not escalated yet,
            # so its cost grows neither with history nor with a backlog of overdue tickets
            # already escalated; the deadline and id are in the key so it reads the index
            # alone (bench/README.md). Its filters repeat these conditions (SCAN_*).
            models.Index(
                fields=["first_response_at_risk_at", "first_response_due_at", "id"],
                condition=SCAN_RESPONSE,
                name="ticket_scan_response_idx",
            ),
            models.Index(
                fields=["resolution_at_risk_at", "resolution_due_at", "id"],
                condition=SCAN_RESOLUTION,
                name="ticket_scan_resolution_idx",
            ),
            models.Index(fields=["customer", "status", "-updated_at"], name="ticket_customer_idx"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_idx"),
            models.Index(fields=["status", "priority"], name="ticket_status_priority_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("portal:ticket_detail", args=[self.number])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_internal(self) -> bool:
        return self.customer_id is None


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public reply")
    INTERNAL = "internal", _("Internal note")


class CommentSource(models.TextChoices):
    WEB = "web", _("Web portal")
    ADMIN = "admin", _("Engineer workspace")
    EMAIL = "email", _("Email")
    API = "api", _("API")
    AWS = "aws", _("AWS Support")
    SYSTEM = "system", _("System")


class Comment(models.Model):
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ticket_comments",
    )
    author_name = models.CharField(
        _("author name"),
        max_length=200,
        blank=True,
        help_text=_("For authors who are not users, such as AWS Support."),
    )
    body = models.TextField(_("body"))
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    source = models.CharField(
        _("source"), max_length=10, choices=CommentSource.choices, default=CommentSource.WEB
    )
    email_message_id = models.CharField(
        _("email Message-ID"), max_length=998, null=True, blank=True, unique=True
    )
    aws_communication_key = models.CharField(
        _("AWS communication key"), max_length=128, null=True, blank=True, unique=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")

    def __str__(self) -> str:
        return f"{self.ticket.number} #{self.pk}"

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

    @property
    def display_author(self) -> str:
        if self.author_id:
            return self.author.get_full_name()
        return self.author_name or str(_("System"))


def attachment_path(instance, filename: str) -> str:
    return f"tickets/{instance.ticket_id}/{filename}"


class Attachment(models.Model):
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments"
    )
    comment = models.ForeignKey(
        Comment,
        verbose_name=_("comment"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=500)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    staff_only = models.BooleanField(
        _("staff only"), default=False, help_text=_("Never shown to customers.")
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename

    @property
    def is_public(self) -> bool:
        if self.staff_only:
            return False
        return self.comment_id is None or self.comment.visibility == Visibility.PUBLIC


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    PRIORITY = "priority", _("Priority changed")
    ASSIGNED = "assigned", _("Assigned")
    COMMENT = "comment", _("Comment added")
    SLA = "sla", _("SLA")
    NOTIFICATION = "notification", _("Notification sent")
    AWS = "aws", _("AWS")
    OTHER = "other", _("Other")


class TicketEvent(models.Model):
    """One change on a ticket: the timeline and audit trail (who, when, old -> new)."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    old_value = models.CharField(_("old value"), max_length=200, blank=True)
    new_value = models.CharField(_("new value"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    internal = models.BooleanField(
        _("internal"), default=False, help_text=_("Shown to staff only.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"


class SLAClock(models.TextChoices):
    RESPONSE = "response", _("First response")
    RESOLUTION = "resolution", _("Resolution")


class SLAAlertKind(models.TextChoices):
    AT_RISK = "at_risk", _("At risk")
    BREACHED = "breached", _("Breached")
    ESCALATED = "escalated", _("Escalated to managers")


class TicketSLAAlert(models.Model):
    """A warning, breach or level-2 escalation raised once per ticket, clock and deadline.

    The unique constraint makes the breach scan idempotent: running it twice (or two
    schedulers at once) raises nothing twice. A new deadline (priority change, pause) can
    raise new alerts.
    """

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="sla_alerts"
    )
    clock = models.CharField(_("clock"), max_length=12, choices=SLAClock.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=SLAAlertKind.choices)
    due_at = models.DateTimeField(_("deadline"))
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("SLA alert")
        verbose_name_plural = _("SLA alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "clock", "kind", "due_at"], name="sla_alert_once_per_deadline"
            )
        ]
        indexes = [
            # The scan's "already warned / escalated for this deadline?" anti-joins, read
            # from the index alone.
            models.Index(
                fields=["clock", "kind", "ticket", "due_at"],
                condition=models.Q(kind__in=["at_risk", "escalated"]),
                name="sla_alert_scan_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.clock} {self.kind}"


class SNSCertificate(models.Model):
    """A cached (or pinned) SNS signing certificate, by its URL."""

    url = models.URLField(_("URL"), max_length=500, unique=True)
    pem = models.TextField(_("PEM"))
    fetched_at = models.DateTimeField(_("fetched at"), auto_now=True)

    class Meta:
        verbose_name = _("SNS certificate")
        verbose_name_plural = _("SNS certificates")

    def __str__(self) -> str:
        return self.url


class InboundEmail(models.Model):
    """Every message received by email, and what became of it (idempotent per SES id)."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("Received")
        TICKET = "ticket", _("New ticket")
        COMMENT = "comment", _("Added to a ticket")
        AUTO_REPLY = "auto_reply", _("Ignored: automatic reply")
        BOUNCE = "bounce", _("Bounce recorded")
        QUARANTINED = "quarantined", _("Quarantined")
        REJECTED = "rejected", _("Rejected")
        DUPLICATE = "duplicate", _("Duplicate")

    ses_message_id = models.CharField(_("SES message id"), max_length=200, unique=True)
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    sender = models.CharField(_("sender"), max_length=320, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED
    )
    reason = models.TextField(_("reason"), blank=True)
    verdicts = models.JSONField(_("SES verdicts"), default=dict, blank=True)
    raw = models.FileField(_("original message"), upload_to="inbound/%Y/%m/", max_length=300)
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_emails",
    )
    comment = models.ForeignKey(
        Comment,
        verbose_name=_("comment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # Duplicate and thread look-ups by Message-ID (every inbound email does one).
            models.Index(fields=["message_id"], name="inbound_message_id_idx"),
        ]
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound emails")

    def __str__(self) -> str:
        return f"{self.sender}: {self.subject[:60]} [{self.outcome}]"


class Article(models.Model):
    """A knowledge-base article (SPT-004): public ones in the portal, internal for staff."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public (customers)")
        INTERNAL = "internal", _("Internal (staff)")

    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("body (Markdown)"))
    category = models.ForeignKey(
        "spt_portal.Skill",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=[("en", "English"), ("zh-hans", "简体中文")],
        default="zh-hans",
    )
    is_published = models.BooleanField(_("published"), default=False)
    source_ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("written up from ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("knowledge-base article")
        verbose_name_plural = _("knowledge base")
        indexes = [
            models.Index(
                fields=["visibility", "is_published", "-updated_at"], name="article_public_idx"
            )
        ]

    def __str__(self) -> str:
        return self.title
