"""Admin for the incidents app: integrations and the contact directory are configured here;
alerts and incidents are worked on the /ops/ pages (linked from each row)."""

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from spt_portal import access
from spt_portal.admin_mixins import EvidenceAdminMixin

from . import alerts, rules
from .models import (
    Alert,
    AlertIntegration,
    AlertPayload,
    Communication,
    EmergencyContact,
    Incident,
    IncidentMetric,
    IntegrationKind,
    MetricQuery,
    Page,
    Rule,
    RuleExecution,
)

HOOK_NAMES = {
    IntegrationKind.ALERTMANAGER: "incidents:hook_alertmanager",
    IntegrationKind.GRAFANA: "incidents:hook_grafana",
    IntegrationKind.GENERIC: "incidents:hook_generic",
}


@admin.register(AlertIntegration)
class AlertIntegrationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "service_label",
        "auto_create_incidents",
        "is_active",
        "last_received_at",
    ]
    list_filter = ["kind", "is_active"]
    readonly_fields = ["webhook_url", "token_prefix", "created_at", "last_received_at"]
    fields = [
        "name",
        "kind",
        "service_label",
        "auto_create_incidents",
        "is_active",
        "webhook_url",
        "token_prefix",
        "created_at",
        "last_received_at",
    ]
    actions = ["rotate_token"]

    @admin.display(description=_("webhook URL (without the token)"))
    def webhook_url(self, obj):
        if not obj.kind:
            return "—"
        return settings.SITE_URL + reverse(HOOK_NAMES[obj.kind])

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.readonly_fields)
        if obj is not None:
            readonly.append("kind")
        return readonly

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token = alerts._new_token(obj)
        super().save_model(request, obj, form, change)
        self._show_token(request, obj, token)

    def _show_token(self, request, obj, token):
        url = f"{settings.SITE_URL}{reverse(HOOK_NAMES[obj.kind])}?token={token}"
        self.message_user(
            request,
            gettext("Webhook URL of %(name)s (shown once, copy it now): %(url)s")
            % {"name": obj.name, "url": url},
            messages.WARNING,
        )

    @admin.action(
        description=_("Rotate the token (the old one stops working)"), permissions=["change"]
    )
    def rotate_token(self, request, queryset):
        for integration in queryset:
            token = alerts.integration_rotate_token(integration=integration)
            self._show_token(request, integration, token)


@admin.register(AlertPayload)
class AlertPayloadAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = [
        "received_at",
        "integration",
        "status",
        "alerts_new",
        "alerts_repeated",
        "alerts_resolved",
        "error",
    ]
    list_filter = ["status", "integration"]
    list_select_related = ["integration"]


@admin.register(Alert)
class AlertAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = [
        "title",
        "level",
        "status",
        "source",
        "service",
        "occurrences",
        "last_received_at",
        "incident_link",
    ]
    list_filter = ["status", "level", "source"]
    list_select_related = ["incident"]
    search_fields = ["title", "fingerprint", "service"]

    @admin.display(description=_("incident"))
    def incident_link(self, obj):
        if not obj.incident_id:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', obj.incident.get_absolute_url(), obj.incident.number
        )


@admin.register(Incident)
class IncidentAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    """Incidents are worked on /ops/incidents/; here they are listed for reference."""

    list_display = ["number", "title", "level", "status", "service", "detected_at", "ops_link"]
    list_filter = ["status", "level", "source"]
    search_fields = ["=number", "title", "service"]

    @admin.display(description=_("incident page"))
    def ops_link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), gettext("Open"))

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EmergencyContact)
class EmergencyContactAdmin(admin.ModelAdmin):
    list_display = [
        "role",
        "display_name",
        "contact_phone",
        "contact_email",
        "notify_by_sms",
        "is_active",
    ]
    list_filter = ["role", "is_active"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]


@admin.register(Page)
class PageAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = [
        "incident",
        "name",
        "kind",
        "status",
        "escalation_level",
        "sends",
        "triggered_at",
        "acknowledged_at",
    ]
    list_filter = ["status", "kind"]
    list_select_related = ["incident"]


@admin.register(Communication)
class CommunicationAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "kind", "audience", "subject", "recipients_count", "sent_at"]
    list_filter = ["kind", "audience"]
    list_select_related = ["incident"]


@admin.register(IncidentMetric)
class IncidentMetricAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "metric_name", "metric_value", "unit", "measured_at"]
    list_select_related = ["incident"]


# --- rules ---------------------------------------------------------------------------

SEED_EXAMPLES = {
    "conditions": [
        '{"priority": ["high", "urgent"], "status": "pending"}',
        '{"status": "in_progress", "time": {"field": "created_at", "operator": ">", '
        '"duration": "24h"}}',
        '{"severity": "critical", "status": "pending"}',
        '{"category": ["performance", "security"]}',
    ],
    "actions": [
        '[{"type": "escalate", "level": 1, "reason": "自动升级", "notify_users": [], '
        '"auto_assign": true}]',
        '[{"type": "notify", "channels": ["email", "sms", "slack"], '
        '"recipients": ["manager@company.com"], "message": "事件需要关注", "severity": "high"}]',
        '[{"type": "assign", "assignee": "on_call"}]  or  [{"type": "assign", "assignee_id": 123}]',
        '[{"type": "change_status", "status": "in_progress", "reason": "自动状态变更"}]',
        '[{"type": "collect_metric", "metric_type": "response_time", '
        '"metric_name": "平均响应时间", "metric_value": 2.5, "unit": "秒", '
        '"tags": {"environment": "production"}}]',
    ],
}


class JSONEditor(forms.Textarea):
    def __init__(self):
        super().__init__(
            attrs={"rows": 8, "cols": 90, "style": "font-family: monospace;", "spellcheck": "false"}
        )

    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return json.dumps(value, ensure_ascii=False, indent=2)


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = [
            "name",
            "description",
            "rule_type",
            "target",
            "priority",
            "is_active",
            "conditions",
            "actions",
        ]
        widgets = {"conditions": JSONEditor(), "actions": JSONEditor()}


def _examples(kind: str) -> str:
    return format_html_join("", "<br><code>{}</code>", ((e,) for e in SEED_EXAMPLES[kind]))


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    """Managers edit rules (engineers view them). Saving validates the JSON: an unknown
    field, operator, duration or action is an error that names it."""

    form = RuleForm
    list_display = [
        "name",
        "target",
        "rule_type",
        "priority",
        "is_active",
        "execution_count",
        "last_executed_at",
    ]
    list_filter = ["target", "rule_type", "is_active"]
    search_fields = ["name", "description"]
    readonly_fields = ["execution_count", "last_executed_at", "dry_run_link"]
    change_form_template = "admin/incidents/rule/change_form.html"

    def has_add_permission(self, request):
        return access.is_manager(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return access.is_manager(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return access.is_manager(request.user) and super().has_delete_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        return [
            (
                None,
                {"fields": ["name", "description", "rule_type", "target", "priority", "is_active"]},
            ),
            (
                _("Conditions and actions"),
                {
                    "fields": ["conditions", "actions"],
                    "description": format_html(
                        "{}{}<br>{}{}",
                        gettext("Conditions (all must hold), as in seed 002:"),
                        _examples("conditions"),
                        gettext("Actions:"),
                        _examples("actions"),
                    ),
                },
            ),
            (_("Runs"), {"fields": ["execution_count", "last_executed_at", "dry_run_link"]}),
        ]

    @admin.display(description=_("dry run"))
    def dry_run_link(self, obj):
        if not obj or not obj.pk:
            return gettext("Save the rule first.")
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:incidents_rule_dry_run", args=[obj.pk]),
            gettext("Which open objects match now, and what would happen"),
        )

    def get_urls(self):
        return [
            path(
                "<int:rule_id>/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="incidents_rule_dry_run",
            ),
            *super().get_urls(),
        ]

    def dry_run_view(self, request, rule_id):
        rule = get_object_or_404(Rule, pk=rule_id)
        if not self.has_view_permission(request, rule):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Dry run: %(name)s") % {"name": rule.name},
            "rule": rule,
            "rows": rules.dry_run(rule),
            "actions": [rules.describe_action(a) for a in rule.actions],
            "opts": self.model._meta,
        }
        return render(request, "admin/incidents/rule/dry_run.html", context)


@admin.register(RuleExecution)
class RuleExecutionAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "rule",
        "target",
        "ticket",
        "incident",
        "trigger",
        "outcome",
        "attempts",
    ]
    list_filter = ["outcome", "target", "trigger"]
    list_select_related = ["rule", "ticket", "incident"]


@admin.register(MetricQuery)
class MetricQueryAdmin(admin.ModelAdmin):
    """PromQL evaluated over each incident's window (incidents/prometheus.py)."""

    list_display = ["name", "promql", "unit", "is_active", "position"]
    list_editable = ["is_active", "position"]
    search_fields = ["name", "promql"]
