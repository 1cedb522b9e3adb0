"""Tickets react to lower apps' signals here (registered in TicketsConfig.ready)."""

from django.contrib.contenttypes.models import ContentType

from .models import EventKind, Ticket, TicketEvent


def record_notification(sender, log, **kwargs):
    """Put every delivered notification about a ticket on its timeline (staff only)."""
    if log.content_type_id != ContentType.objects.get_for_model(Ticket).pk:
        return
    TicketEvent.objects.create(
        ticket_id=log.object_id,
        kind=EventKind.NOTIFICATION,
        new_value=f"{log.get_channel_display()}: {log.recipient}"[:200],
        note=log.subject or log.template,
        internal=True,
    )
