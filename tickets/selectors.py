"""Reads of tickets. ``tickets_visible_to`` is the one place that decides who sees a ticket."""

from django.db.models import Q, QuerySet

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
    comments = ticket.comments.select_related("author")
    if not access.is_staff_user(user):
        comments = comments.filter(visibility=Visibility.PUBLIC)
    return comments.order_by("created_at", "id")


def attachments_of_ticket_visible_to(*, user, ticket: Ticket) -> QuerySet[Attachment]:
    """The ticket's files the reader may see: customers, not the staff-only ones (the
    original .eml of an email) nor those of internal notes."""
    return _files_for(user, ticket.attachments.order_by("id"))


def _files_for(user, attachments: QuerySet[Attachment]) -> QuerySet[Attachment]:
    if access.is_staff_user(user):
        return attachments
    return attachments.filter(
        Q(comment__isnull=True) | Q(comment__visibility=Visibility.PUBLIC), staff_only=False
    )


def conversation(*, user, ticket: Ticket) -> tuple[list[Comment], list[Attachment]]:
    """What a ticket page shows: the comments the reader may see, each with the files the
    reader may see on it in ``shown_attachments``, and the files on the ticket itself (not
    on a comment). Three queries whatever the number of comments: the ticket's files are
    read once and handed out here (Django's prefetch built a queryset per comment, ~2 ms of
    a 50-comment page; bench/README.md)."""
    comments = list(comments_visible_to(user=user, ticket=ticket))
    by_comment: dict[int | None, list[Attachment]] = {}
    for attachment in attachments_of_ticket_visible_to(user=user, ticket=ticket):
        by_comment.setdefault(attachment.comment_id, []).append(attachment)
    for comment in comments:
        comment.shown_attachments = by_comment.get(comment.pk, [])
    return comments, by_comment.get(None, [])


def events_visible_to(*, user, ticket: Ticket) -> QuerySet[TicketEvent]:
    events = ticket.events.select_related("actor")
    if not access.is_staff_user(user):
        events = events.filter(internal=False)
    return events.order_by("created_at", "id")


def attachments_visible_to(*, user) -> QuerySet[Attachment]:
    attachments = Attachment.objects.filter(ticket__in=tickets_visible_to(user=user))
    return _files_for(user, attachments).select_related("ticket")
