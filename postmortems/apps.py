from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = _("Postmortems")

    def ready(self):
        from django.conf import settings

        from incidents import services as incident_services
        from spt_portal.admin_site import register_dashboard_panel
        from spt_portal.documents import register_values
        from spt_portal.observability import register_collector

        from . import dashboard, metrics, services

        # The incident closes only once its postmortem is published (and its urgent
        # action items are owned); recovery of a P0/P1 prompts for the postmortem.
        incident_services.register_close_check(services.close_blocker)
        incident_services.register_status_listener(services.on_incident_status)
        register_dashboard_panel(dashboard.postmortems_panel)
        register_values(
            "postmortems",
            lambda: {
                "remind_days": settings.ACTION_ITEM_REMIND_DAYS,
                "alert_retention_days": settings.ALERT_RETENTION_DAYS,
            },
        )
        register_collector(metrics.PostmortemCollector())
