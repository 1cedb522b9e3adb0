"""Tickets react to lower apps' signals here (registered in TicketsConfig.ready)."""

from django.contrib.contenttypes.models import ContentType

from .models import Comment, EventKind, Ticket, TicketEvent


def record_notification(sender, log, **kwargs):
    """Put every delivered notification about a ticket (or one of its comments) on the
    ticket's timeline (staff only)."""
    if log.content_type_id == ContentType.objects.get_for_model(Ticket).pk:
        ticket_id = log.object_id
    elif log.content_type_id == ContentType.objects.get_for_model(Comment).pk:
        ticket_id = (
            Comment.objects.filter(pk=log.object_id).values_list("ticket_id", flat=True).first()
        )
    else:
        return
    if ticket_id is None:
        return
    TicketEvent.objects.create(
        ticket_id=ticket_id,
        kind=EventKind.NOTIFICATION,
        new_value=f"{log.get_channel_display()}: {log.recipient}"[:200],
        note=log.subject or log.template,
        internal=True,
    )
