"""On-call schedules (SPT-002): rotations in layers, and explicit shifts / overrides."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OnCallSchedule(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    timezone = models.CharField(_("timezone"), max_length=64, default="Asia/Shanghai")
    description = models.TextField(_("description"), blank=True)
    is_default = models.BooleanField(
        _("default schedule"),
        default=False,
        help_text=_("The schedule that answers 'who is on call' for tickets and incidents."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("on-call schedule")
        verbose_name_plural = _("on-call schedules")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_oncall_schedule",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Level(models.IntegerChoices):
    PRIMARY = 1, _("Primary")
    SECONDARY = 2, _("Secondary")


class OnCallLayer(models.Model):
    """A rotation: the members take turns, one shift each, handing over at a fixed time."""

    schedule = models.ForeignKey(
        OnCallSchedule, verbose_name=_("schedule"), on_delete=models.CASCADE, related_name="layers"
    )
    level = models.PositiveSmallIntegerField(
        _("level"), choices=Level.choices, default=Level.PRIMARY
    )
    rotation_start = models.DateField(_("rotation starts on"))
    handover_time = models.TimeField(_("hand-over time"), default="09:00")
    shift_hours = models.PositiveIntegerField(
        _("shift length (hours)"), default=24 * 7, help_text=_("168 for weekly, 24 for daily.")
    )

    class Meta:
        ordering = ["schedule", "level"]
        verbose_name = _("rotation layer")
        verbose_name_plural = _("rotation layers")
        constraints = [
            models.UniqueConstraint(fields=["schedule", "level"], name="one_layer_per_level"),
            models.CheckConstraint(condition=models.Q(shift_hours__gt=0), name="shift_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} · {self.get_level_display()}"


class OnCallLayerMember(models.Model):
    layer = models.ForeignKey(
        OnCallLayer, verbose_name=_("layer"), on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("engineer"),
        on_delete=models.CASCADE,
        limit_choices_to={"is_staff": True},
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["layer", "position", "id"]
        verbose_name = _("rotation member")
        verbose_name_plural = _("rotation members")

    def __str__(self) -> str:
        return f"{self.layer}: {self.user}"


class OnCallShift(models.Model):
    """An explicit shift (the seeds' on_call_schedule: user, start, end, is_primary).

    It overrides the rotation of its level for its time range: holiday swaps, cover.
    """

    schedule = models.ForeignKey(
        OnCallSchedule, verbose_name=_("schedule"), on_delete=models.CASCADE, related_name="shifts"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("engineer"),
        on_delete=models.CASCADE,
        related_name="oncall_shifts",
        limit_choices_to={"is_staff": True},
    )
    start_time = models.DateTimeField(_("start"))
    end_time = models.DateTimeField(_("end"))
    is_primary = models.BooleanField(_("primary"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["start_time"]
        verbose_name = _("on-call override")
        verbose_name_plural = _("on-call overrides")
        indexes = [
            models.Index(fields=["schedule", "start_time", "end_time"], name="oncall_shift_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_time__lt=models.F("end_time")),
                name="shift_starts_before_end",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.start_time:%Y-%m-%d %H:%M} – {self.end_time:%Y-%m-%d %H:%M}"
