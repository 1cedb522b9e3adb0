"""Who hears about what happens to a ticket (seed 000, step 4; seed 001, §4).

Called by the services inside their transaction: each notice is a NotificationLog row
plus an outbox job, committed with the change. Internal notes never produce anything a
customer receives. Nobody is told about their own action.
"""

from django.conf import settings
from django.urls import reverse

from spt_portal import access, outbox
from spt_portal.notifications import notify_channels, notify_email, notify_sms

from .models import Comment, Status, Ticket, TicketEvent, Visibility

# How an AWS engineer's reply is signed in the ticket (imported by aws_integrations).
AWS_SUPPORT_NAME = "AWS Support"


def _portal_link(ticket: Ticket) -> str:
    return f"{settings.SITE_URL}{reverse('portal:ticket_detail', args=[ticket.number])}"


def _admin_link(ticket: Ticket) -> str:
    return f"{settings.SITE_URL}{reverse('admin:tickets_ticket_change', args=[ticket.pk])}"


def _thread_headers(ticket: Ticket) -> dict:
    # Every email of a ticket refers to one stable thread root, so mail clients keep the
    # conversation together and inbound replies can be matched to the ticket.
    root = f"<ticket-{ticket.pk}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"
    return {"In-Reply-To": root, "References": root}


def customer_recipients(ticket: Ticket, *, exclude=None):
    """The requester and CC contacts of a customer ticket (active, with an address)."""
    if ticket.customer_id is None:
        return []
    people = []
    if ticket.requester_id:
        people.append(ticket.requester)
    people += list(ticket.cc_contacts.filter(is_active=True))
    seen, result = set(), []
    for person in people:
        if person is None or not person.is_active or not person.email:
            continue
        if person.customer_id not in (None, ticket.customer_id):
            continue  # another customer's contact, set on the ticket by mistake
        if exclude is not None and person.pk == exclude.pk:
            continue
        if person.email in seen:
            continue
        seen.add(person.email)
        result.append(person)
    return result


def _language(person, ticket: Ticket) -> str:
    if person.preferred_language:
        return person.preferred_language
    return ticket.customer.default_language if ticket.customer_id else settings.LANGUAGE_CODE


def _email(person, ticket, template, key, context, link, *, automatic=True, obj=None):
    return notify_email(
        to=person.email,
        template=template,
        language=_language(person, ticket),
        tz=person.effective_timezone,
        context={"ticket": ticket, "link": link, **context},
        obj=obj or ticket,
        dedupe_key=key,
        headers=_thread_headers(ticket),
        automatic=automatic,
    )


def ticket_created(ticket: Ticket, *, actor) -> None:
    """A new ticket's notices are decided and rendered by a job after commit
    (``tickets.jobs.notify_ticket_created``): the write that opens a ticket (portal form,
    API, inbound email, AWS case or Health event import) stores the ticket, its SLA and
    history and one job, and the emails are rendered by the worker (bench/README.md)."""
    outbox.enqueue("tickets.jobs.notify_ticket_created", ticket.pk, queue="notifications")


def tickets_created(tickets: list[Ticket], *, actor) -> None:
    """``ticket_created`` for tickets opened together: one job for the lot."""
    outbox.enqueue(
        "tickets.jobs.notify_tickets_created",
        [ticket.pk for ticket in tickets],
        queue="notifications",
    )


def send_ticket_created(ticket: Ticket) -> int:
    """The notices of a new ticket; each is keyed, so running twice sends nothing twice.
    Returns how many were queued by this call."""
    queued = 0
    for person in customer_recipients(ticket):
        log = _email(
            person,
            ticket,
            "ticket_created",
            f"ticket:{ticket.pk}:created:{person.email}",
            {},
            _portal_link(ticket),
        )
        queued += log is not None
    priority = ticket.get_priority_display()
    queued += notify_channels(
        event="ticket.created",
        text=f"[{ticket.number}] {priority}: {ticket.title} ({_admin_link(ticket)})",
        data={"number": ticket.number, "priority": ticket.priority, "title": ticket.title},
        obj=ticket,
        dedupe_key=f"ticket:{ticket.pk}:created",
    )
    if ticket.priority == "critical":
        queued += _critical_sms(ticket)
    return queued


def _critical_sms(ticket: Ticket) -> int:
    """Critical tickets: SMS to the customer's requester and the engineer on it."""
    params = {"number": ticket.number, "title": ticket.title[:30]}
    phones = []
    if ticket.requester_id and ticket.requester.phone:
        phones.append(ticket.requester.phone)
    if ticket.assignee_id and ticket.assignee.phone:
        phones.append(ticket.assignee.phone)
    sent = 0
    for phone in dict.fromkeys(phones):
        log = notify_sms(
            phone=phone,
            template_id=settings.SMS_TEMPLATE_CRITICAL_TICKET,
            params=params,
            obj=ticket,
            dedupe_key=f"ticket:{ticket.pk}:critical-sms:{phone}",
        )
        sent += log is not None
    return sent


def comment_added(comment: Comment) -> None:
    """A public reply goes to the other side; an internal note goes nowhere."""
    if comment.visibility != Visibility.PUBLIC:
        return
    ticket = comment.ticket
    author = comment.author
    # Staff side: staff users, and AWS engineers' replies imported from AWS Support.
    if author is not None:
        staff_side = access.is_staff_user(author)
    else:
        staff_side = comment.source == "aws" and comment.author_name == AWS_SUPPORT_NAME
    if staff_side:
        for person in customer_recipients(ticket, exclude=author):
            _email(
                person,
                ticket,
                "ticket_reply",
                f"comment:{comment.pk}:{person.email}",
                {"comment": comment},
                _portal_link(ticket),
                automatic=False,  # it relays a person's reply
                obj=comment,
            )
        return
    # A customer wrote: tell the engineer on the ticket (or the staff channels).
    if ticket.assignee_id and ticket.assignee.is_active:
        _email(
            ticket.assignee,
            ticket,
            "ticket_reply",
            f"comment:{comment.pk}:{ticket.assignee.email}",
            {"comment": comment},
            _admin_link(ticket),
            automatic=False,
            obj=comment,
        )
    else:
        notify_channels(
            event="ticket.customer_reply",
            text=f"[{ticket.number}] {comment.display_author}: {comment.body[:200]}",
            data={"number": ticket.number},
            obj=ticket,
            dedupe_key=f"comment:{comment.pk}",
        )


def status_changed(ticket: Ticket, *, event: TicketEvent, old_status: str, actor, note="") -> None:
    template = "ticket_resolved" if ticket.status == Status.RESOLVED else "ticket_status"
    for person in customer_recipients(ticket, exclude=actor):
        _email(
            person,
            ticket,
            template,
            f"event:{event.pk}:{person.email}",
            {
                "old_status": Status(old_status).label,
                "note": note,
                "auto_close_days": settings.TICKET_AUTO_CLOSE_DAYS,
            },
            _portal_link(ticket),
        )


def auto_closed(ticket: Ticket) -> None:
    for person in customer_recipients(ticket):
        _email(
            person,
            ticket,
            "ticket_auto_closed",
            f"ticket:{ticket.pk}:auto-closed:{ticket.closed_at.isoformat()}:{person.email}",
            {},
            _portal_link(ticket),
        )
