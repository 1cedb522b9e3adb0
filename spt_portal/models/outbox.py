"""The job outbox: a job is written in the same transaction as the change that causes it."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobOutbox(models.Model):
    """A background job waiting to be handed to RQ (see ``spt_portal.outbox``)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DISPATCHED = "dispatched", _("Handed to the queue")
        FAILED = "failed", _("Gave up")

    func = models.CharField(_("function"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    queue = models.CharField(_("queue"), max_length=50, default="default")
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    rq_job_id = models.CharField(_("RQ job id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("outbox job")
        verbose_name_plural = _("outbox jobs")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="outbox_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.func} [{self.status}]"
