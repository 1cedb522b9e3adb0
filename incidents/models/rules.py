"""The rule engine's tables (seed 002 "规则引擎", its incident_rules): rules and the
record of every time one fired."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RuleType(models.TextChoices):
    ESCALATION = "escalation", _("Escalation")
    ALERT = "alert", _("Alert")
    ASSIGNMENT = "assignment", _("Assignment")
    MIXED = "mixed", _("Mixed")


class RuleTarget(models.TextChoices):
    TICKET = "ticket", _("Tickets")
    INCIDENT = "incident", _("Incidents")


class RulePriority(models.TextChoices):
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


PRIORITY_ORDER = {RulePriority.HIGH: 0, RulePriority.MEDIUM: 1, RulePriority.LOW: 2}


class Rule(models.Model):
    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    rule_type = models.CharField(_("rule type"), max_length=20, choices=RuleType.choices)
    target = models.CharField(_("applies to"), max_length=10, choices=RuleTarget.choices)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    actions = models.JSONField(_("actions"), default=list)
    priority = models.CharField(
        _("priority"),
        max_length=10,
        choices=RulePriority.choices,
        default=RulePriority.MEDIUM,
        help_text=_("Evaluation order: high first."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    execution_count = models.PositiveIntegerField(_("executions"), default=0, editable=False)
    last_executed_at = models.DateTimeField(
        _("last executed at"), null=True, blank=True, editable=False
    )
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["target", "priority", "id"]
        verbose_name = _("rule")
        verbose_name_plural = _("rules")

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from incidents.rules import validate_rule

        validate_rule(self)


class RuleExecution(models.Model):
    """One firing of a rule for one object. ``key`` (unique) is the rule, the object and
    the values its conditions looked at, so a rule fires once per object while those
    values stay the same (a time rule re-arms when its watched field changes)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Running")
        OK = "ok", _("Done")
        PARTIAL = "partial", _("Some actions failed")
        FAILED = "failed", _("Failed")

    rule = models.ForeignKey(
        Rule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="executions"
    )
    key = models.CharField(_("key"), max_length=128, unique=True)
    target = models.CharField(_("applies to"), max_length=10, choices=RuleTarget.choices)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rule_executions",
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        verbose_name=_("incident"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rule_executions",
    )
    trigger = models.CharField(_("trigger"), max_length=20)
    actions_taken = models.JSONField(_("actions taken"), default=list)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    next_retry_at = models.DateTimeField(_("next retry"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("executed at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("rule execution")
        verbose_name_plural = _("rule executions")

    def __str__(self) -> str:
        return f"{self.rule} · {self.target} {self.ticket_id or self.incident_id} [{self.outcome}]"
