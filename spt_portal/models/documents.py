"""Versions of the Document Center's policy documents."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentVersion(models.Model):
    """A version of a policy document: a new one whenever a value it shows (SLA targets,
    poll intervals, contacts) or its text changes, so a contract never changes silently."""

    slug = models.CharField(_("document"), max_length=100)
    number = models.PositiveIntegerField(_("version"))
    values = models.JSONField(_("values shown"), default=dict)
    text_hash = models.CharField(_("text fingerprint"), max_length=64)
    changes = models.JSONField(_("changes"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["slug", "-number"]
        verbose_name = _("document version")
        verbose_name_plural = _("document versions")
        constraints = [
            models.UniqueConstraint(fields=["slug", "number"], name="document_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.slug} v{self.number}"
