from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Alerts and incidents")

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_save

        from spt_portal import config_cache
        from spt_portal.admin_site import register_dashboard_panel
        from spt_portal.documents import register_values
        from spt_portal.observability import register_collector
        from tickets.models import TicketEvent

        from . import dashboard, metrics, prometheus, rules, services
        from .models import IncidentTimelineEntry, Rule

        # The rule engine hears about every ticket and incident change (each writes a
        # timeline row), without the tickets app knowing about rules.
        post_save.connect(rules.on_ticket_event, sender=TicketEvent, dispatch_uid="rules.ticket")
        post_save.connect(
            rules.on_incident_entry, sender=IncidentTimelineEntry, dispatch_uid="rules.incident"
        )
        # ... and reads "any rules active?" again once a rule changes.
        config_cache.watch("rules", Rule)

        register_dashboard_panel(dashboard.incidents_panel)
        # Once an incident has recovered, its Prometheus metrics are collected (a job).
        services.register_status_listener(prometheus.on_incident_status)
        register_values(
            "incidents",
            lambda: {
                "page_repeat_minutes": settings.INCIDENT_PAGE_REPEAT_MINUTES,
                "page_repeats": settings.INCIDENT_PAGE_REPEATS,
            },
        )
        register_collector(metrics.IncidentCollector())
