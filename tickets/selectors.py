"""Reads of tickets. ``tickets_visible_to`` is the one place that decides who sees a ticket."""

from django.db.models import Prefetch, Q, QuerySet

from spt_portal import access

from .models import Attachment, Comment, Ticket, TicketEvent, Visibility


def tickets_visible_to(*, user) -> QuerySet[Ticket]:
    if access.is_staff_user(user):
        return Ticket.objects.all()
    if access.is_customer_user(user):
        return Ticket.objects.filter(customer_id=user.customer_id)
    return Ticket.objects.none()


def ticket_list_for(*, user, status="", priority="", query="") -> QuerySet[Ticket]:
    # What the portal list shows: no descriptions (an emailed one can be tens of KB).
    tickets = tickets_visible_to(user=user).select_related("requester").defer("description")
    if status:
        tickets = tickets.filter(status=status)
    if priority:
        tickets = tickets.filter(priority=priority)
    if query:
        tickets = tickets.filter(Q(number__iexact=query.strip()) | Q(title__icontains=query))
    return tickets.order_by("-updated_at", "-id")


def comments_visible_to(*, user, ticket: Ticket) -> QuerySet[Comment]:
    """Customers see public comments only; internal notes never reach them."""
    staff = access.is_staff_user(user)
    attachments = Attachment.objects.order_by("id")
    if not staff:
        attachments = attachments.filter(staff_only=False)
    comments = ticket.comments.select_related("author").prefetch_related(
        Prefetch("attachments", queryset=attachments)
    )
    if not staff:
        comments = comments.filter(visibility=Visibility.PUBLIC)
    return comments.order_by("created_at", "id")


def events_visible_to(*, user, ticket: Ticket) -> QuerySet[TicketEvent]:
    events = ticket.events.select_related("actor")
    if not access.is_staff_user(user):
        events = events.filter(internal=False)
    return events.order_by("created_at", "id")


def attachments_visible_to(*, user) -> QuerySet[Attachment]:
    attachments = Attachment.objects.filter(ticket__in=tickets_visible_to(user=user))
    if not access.is_staff_user(user):
        attachments = attachments.filter(
            Q(comment__isnull=True) | Q(comment__visibility=Visibility.PUBLIC), staff_only=False
        )
    return attachments.select_related("ticket")
