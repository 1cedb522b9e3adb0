from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self):
        from spt_portal.admin_site import register_dashboard_panel
        from spt_portal.notifications import notification_delivered

        from . import dashboard, receivers

        register_dashboard_panel(dashboard.tickets_panel)
        notification_delivered.connect(
            receivers.record_notification, dispatch_uid="tickets.record_notification"
        )
