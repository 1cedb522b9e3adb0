from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA and on-call")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from spt_portal import config_cache
        from spt_portal.admin_site import register_dashboard_panel
        from spt_portal.audit import register_evidence
        from spt_portal.documents import register_values
        from spt_portal.observability import register_collector

        from . import dashboard, evidence
        from .models import BusinessCalendar, SLAConfig, SLAPolicyVersion, TierCalendar
        from .services import forget_targets

        post_save.connect(forget_targets, sender=SLAConfig, dispatch_uid="sla-forget-targets")
        post_delete.connect(forget_targets, sender=SLAConfig, dispatch_uid="sla-forget-targets")
        # Opening a ticket keeps the policy in force and the tiers' calendars per process
        # (services.policy_and_calendar) until one of these changes.
        config_cache.watch("sla", SLAPolicyVersion, SLAConfig, TierCalendar, BusinessCalendar)

        register_dashboard_panel(dashboard.oncall_panel)
        register_values("sla", dashboard.document_values)
        register_evidence("SPT-002", evidence.spt002)
        register_collector(dashboard.OnCallCollector())
