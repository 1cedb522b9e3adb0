from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self):
        from django.conf import settings

        from spt_portal.admin_site import register_dashboard_panel
        from spt_portal.audit import register_evidence
        from spt_portal.documents import register_values
        from spt_portal.notifications import notification_delivered
        from spt_portal.observability import register_collector

        from . import dashboard, evidence, metrics, receivers

        register_values(
            "tickets",
            lambda: {
                "auto_close_days": settings.TICKET_AUTO_CLOSE_DAYS,
                "reopen_days": settings.TICKET_REOPEN_DAYS,
            },
        )
        register_evidence("SPT-001", evidence.spt001)
        register_evidence("SPT-003", evidence.spt003)
        register_evidence("SPT-004", evidence.spt004)
        register_dashboard_panel(dashboard.tickets_panel)
        register_collector(metrics.TicketCollector())
        notification_delivered.connect(
            receivers.record_notification, dispatch_uid="tickets.record_notification"
        )
