"""SLA policy: immutable versions of per-priority targets (seed 001, sla_config).

A ticket points at the version in force when it opened, so editing the policy (which makes a
new version) never rewrites the history of existing tickets.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Priority(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


# The seeds' defaults (001: sla_config): response minutes, resolution minutes, and the
# description of each level in English and in the seed's Chinese.
DEFAULT_TARGETS = {
    Priority.CRITICAL: (
        15,
        4 * 60,
        "Production completely down; business severely affected",
        "生产环境完全中断，业务严重受影响",
    ),
    Priority.HIGH: (
        60,
        8 * 60,
        "Production partly affected",
        "生产环境部分功能受影响",
    ),
    Priority.MEDIUM: (
        4 * 60,
        24 * 60,
        "Non-critical function problem or degraded performance",
        "非关键功能问题或性能下降",
    ),
    Priority.LOW: (
        24 * 60,
        72 * 60,
        "General question, feature request or minor problem",
        "一般性咨询、功能请求或轻微问题",
    ),
}


class SLAPolicyVersion(models.Model):
    """One immutable version of the whole SLA policy (all four priorities)."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"
        verbose_name = _("SLA policy version")
        verbose_name_plural = _("SLA policy versions")

    def __str__(self) -> str:
        return _("SLA policy v%(number)s") % {"number": self.pk}


class SLAConfig(models.Model):
    """The targets for one priority within a policy version."""

    policy = models.ForeignKey(
        SLAPolicyVersion,
        verbose_name=_("policy version"),
        on_delete=models.PROTECT,
        related_name="targets",
    )
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    response_minutes = models.PositiveIntegerField(_("first response (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (minutes)"))
    description = models.CharField(_("description (English)"), max_length=300, blank=True)
    description_zh_hans = models.CharField(
        _("description (Simplified Chinese)"), max_length=300, blank=True
    )

    class Meta:
        ordering = ["policy", "response_minutes"]
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="sla_target_per_priority"),
            models.CheckConstraint(
                condition=models.Q(response_minutes__gt=0, resolution_minutes__gt=0),
                name="sla_target_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_priority_display()}: {self.response_minutes} / {self.resolution_minutes}"

    @property
    def localized_description(self) -> str:
        if get_language() == "zh-hans" and self.description_zh_hans:
            return self.description_zh_hans
        return self.description


def default_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class BusinessCalendar(models.Model):
    """When SLA clocks run: around the clock, or business hours on working days.

    Working days are the chosen weekdays, minus public holidays of ``holiday_country``,
    plus that country's make-up working days (China's 调休), from the ``holidays`` package.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_24x7 = models.BooleanField(_("24x7"), default=True)
    timezone = models.CharField(_("timezone"), max_length=64, default="Asia/Shanghai")
    workday_start = models.TimeField(_("working day starts"), default="09:00")
    workday_end = models.TimeField(_("working day ends"), default="18:00")
    working_weekdays = models.JSONField(
        _("working weekdays"),
        default=default_weekdays,
        help_text=_("0 = Monday … 6 = Sunday."),
    )
    holiday_country = models.CharField(
        _("public holidays of"),
        max_length=2,
        blank=True,
        default="CN",
        help_text=_("ISO country code, e.g. CN; empty for none."),
    )
    is_partner_default = models.BooleanField(
        _("partner's default calendar"),
        default=False,
        help_text=_("Used for incidents' working-day targets."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        constraints = [
            models.UniqueConstraint(
                fields=["is_partner_default"],
                condition=models.Q(is_partner_default=True),
                name="one_partner_default_calendar",
            ),
            models.CheckConstraint(
                condition=models.Q(is_24x7=True)
                | models.Q(workday_start__lt=models.F("workday_end")),
                name="calendar_day_starts_before_it_ends",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TierCalendar(models.Model):
    """Which calendar the SLA clocks of a customer service tier use (24x7 when none)."""

    service_tier = models.CharField(_("service tier"), max_length=20, unique=True)
    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.PROTECT
    )

    class Meta:
        ordering = ["service_tier"]
        verbose_name = _("service tier calendar")
        verbose_name_plural = _("service tier calendars")

    def __str__(self) -> str:
        return f"{self.service_tier}: {self.calendar}"


from .oncall_models import (  # noqa: E402  (one models module per concept, one app)
    Level,
    OnCallLayer,
    OnCallLayerMember,
    OnCallSchedule,
    OnCallShift,
)

__all__ = [
    "DEFAULT_TARGETS",
    "BusinessCalendar",
    "Level",
    "OnCallLayer",
    "OnCallLayerMember",
    "OnCallSchedule",
    "OnCallShift",
    "Priority",
    "SLAConfig",
    "SLAPolicyVersion",
    "TierCalendar",
]
