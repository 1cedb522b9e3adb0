"""Postmortems and their action items (seeds 003 "事后复盘" and 004 "复盘管理")."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class PostMortemStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    APPROVED = "approved", _("Approved")
    PUBLISHED = "published", _("Published")


# The one table of allowed changes; approving needs a manager (checked by the service).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PostMortemStatus.DRAFT: (PostMortemStatus.IN_REVIEW,),
    PostMortemStatus.IN_REVIEW: (PostMortemStatus.APPROVED, PostMortemStatus.DRAFT),
    PostMortemStatus.APPROVED: (PostMortemStatus.PUBLISHED, PostMortemStatus.DRAFT),
    PostMortemStatus.PUBLISHED: (),
}

# The editable Markdown sections of seed 003's template, in its order.
SECTIONS = (
    "summary",
    "timeline",
    "root_cause",
    "impact",
    "went_well",
    "to_improve",
    "lessons",
)


class PostMortem(models.Model):
    incident = models.OneToOneField(
        "incidents.Incident",
        verbose_name=_("incident"),
        on_delete=models.PROTECT,
        related_name="postmortem",
    )
    title = models.CharField(_("title"), max_length=500)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=PostMortemStatus.choices,
        default=PostMortemStatus.DRAFT,
        db_index=True,
    )
    summary = models.TextField(
        _("basic information"), blank=True, help_text=_("Level, start, recovery, duration, scope.")
    )
    timeline = models.TextField(_("timeline"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    impact = models.TextField(
        _("impact analysis"),
        blank=True,
        help_text=_("Affected users, business loss estimate, data impact."),
    )
    affected_users = models.PositiveIntegerField(_("affected users"), null=True, blank=True)
    business_loss = models.CharField(_("business loss estimate"), max_length=200, blank=True)
    went_well = models.TextField(_("what went well"), blank=True)
    to_improve = models.TextField(_("what to improve"), blank=True)
    lessons = models.TextField(_("lessons learned"), blank=True)
    customer_summary = models.TextField(
        _("summary for customers"),
        blank=True,
        help_text=_("Optional: sent to the affected customers when published."),
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("participants"),
        blank=True,
        related_name="postmortems",
    )
    meeting_at = models.DateTimeField(_("review meeting"), null=True, blank=True)
    meeting_sequence = models.PositiveIntegerField(
        _("invitation revision"), default=0, help_text=_("iCal SEQUENCE of the last invitation.")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveIntegerField(
        _("version"), default=1, help_text=_("Raised by every save; a stale editor is refused.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    review_started_at = models.DateTimeField(_("review started at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    overdue_escalated_at = models.DateTimeField(_("overdue escalated at"), null=True, blank=True)
    article = models.OneToOneField(
        "tickets.Article",
        verbose_name=_("knowledge-base article"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postmortem",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("postmortem")
        verbose_name_plural = _("postmortems")

    def __str__(self) -> str:
        return f"{self.incident.number}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("postmortems:edit", args=[self.pk])

    @property
    def is_editable(self) -> bool:
        return self.status in (PostMortemStatus.DRAFT, PostMortemStatus.IN_REVIEW)


class ActionPriority(models.TextChoices):
    P0 = "P0", "P0"
    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"


class ActionStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("action item status", "Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_ACTION_STATUSES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


class ActionItem(models.Model):
    """Seed 004 "改进措施": an improvement with an owner and a due date, chased until done."""

    postmortem = models.ForeignKey(
        PostMortem,
        verbose_name=_("postmortem"),
        on_delete=models.CASCADE,
        related_name="action_items",
    )
    title = models.CharField(_("title"), max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_items",
        limit_choices_to={"is_staff": True},
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    priority = models.CharField(
        _("priority"), max_length=2, choices=ActionPriority.choices, default=ActionPriority.P2
    )
    status = models.CharField(
        _("status"), max_length=15, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("linked ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_items",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    reminded_before_at = models.DateTimeField(_("reminded before due"), null=True, blank=True)
    reminded_overdue_on = models.DateField(_("last overdue reminder"), null=True, blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        indexes = [
            models.Index(
                fields=["due_date"],
                condition=models.Q(status__in=["open", "in_progress"]),
                name="actionitem_open_due_idx",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_overdue(self) -> bool:
        return (
            self.status in OPEN_ACTION_STATUSES
            and self.due_date is not None
            and self.due_date < timezone.localdate()
        )


class ReviewComment(models.Model):
    postmortem = models.ForeignKey(
        PostMortem, verbose_name=_("postmortem"), on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, on_delete=models.SET_NULL
    )
    body = models.TextField(_("comment"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("review comment")
        verbose_name_plural = _("review comments")

    def __str__(self) -> str:
        return f"{self.postmortem_id}: {self.body[:40]}"
