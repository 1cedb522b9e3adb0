from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Alerts and incidents")

    def ready(self):
        from django.conf import settings
        from prometheus_client.core import REGISTRY

        from spt_portal.admin_site import register_dashboard_panel
        from spt_portal.documents import register_values

        from . import dashboard, metrics

        register_dashboard_panel(dashboard.incidents_panel)
        register_values(
            "incidents",
            lambda: {
                "page_repeat_minutes": settings.INCIDENT_PAGE_REPEAT_MINUTES,
                "page_repeats": settings.INCIDENT_PAGE_REPEATS,
            },
        )
        if not getattr(IncidentsConfig, "_collector_registered", False):
            REGISTRY.register(metrics.IncidentCollector())
            IncidentsConfig._collector_registered = True
