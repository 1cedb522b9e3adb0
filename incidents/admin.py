"""Admin for the incidents app: integrations and the contact directory are configured here;
alerts and incidents are worked on the /ops/ pages (linked from each row)."""

from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from spt_portal.admin_mixins import EvidenceAdminMixin

from . import alerts
from .models import (
    Alert,
    AlertIntegration,
    AlertPayload,
    Communication,
    EmergencyContact,
    Incident,
    IncidentMetric,
    IntegrationKind,
    Page,
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
