"""Every write to a ticket goes through here: views, admin, API, email and jobs alike.

Each service is atomic, validates, saves with ``update_fields``, and writes a TicketEvent
(the timeline) for every change. Follow-up jobs (notifications) are enqueued through the
outbox after commit.
"""

from datetime import timedelta

import django.dispatch
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from sla.calendar import business_minutes_between
from sla.models import Priority
from sla.oncall import primary_on_call
from sla.services import deadlines_for, policy_and_calendar
from spt_portal import access
from spt_portal.models import User

from . import notifications
from .filenames import safe_filename
from .models import (
    OPEN_STATUSES,
    TRANSITIONS,
    Attachment,
    Comment,
    CommentSource,
    EventKind,
    Source,
    Status,
    Ticket,
    TicketEvent,
    Visibility,
)

# Sent inside comment_add's transaction (higher apps hook in without being imported here,
# e.g. aws_integrations queues a public comment for its AWS Support case).
comment_created = django.dispatch.Signal()  # args: comment


class TicketError(ValueError):
    """A domain error: shown to the user as a form error or a 4xx JSON body."""


def _event(ticket, *, actor, kind, old="", new="", note="", internal=False) -> TicketEvent:
    event = _event_row(
        ticket, actor=actor, kind=kind, old=old, new=new, note=note, internal=internal
    )
    event.save(force_insert=True)
    return event


def _event_row(ticket, *, actor, kind, old="", new="", note="", internal=False) -> TicketEvent:
    """A history row, not saved yet."""
    return TicketEvent(
        ticket=ticket,
        actor=actor if actor is not None and actor.is_authenticated else None,
        kind=kind,
        old_value=str(old)[:200],
        new_value=str(new)[:200],
        note=note,
        internal=internal,
    )


def _validate_attachment(upload) -> None:
    limit = settings.TICKET_ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise TicketError(
            _("%(name)s is too large (%(size)d MB at most).")
            % {"name": upload.name, "size": limit // (1024 * 1024)}
        )
    extension = upload.name.rsplit(".", 1)[-1].lower() if "." in upload.name else ""
    if extension not in settings.TICKET_ATTACHMENT_EXTENSIONS:
        raise TicketError(
            _("Files of type .%(ext)s cannot be attached.") % {"ext": extension or "?"}
        )


def _store_attachments(ticket, comment, uploads, actor) -> list[Attachment]:
    stored = []
    for upload in uploads or []:
        upload.name = safe_filename(upload.name)
        _validate_attachment(upload)
        stored.append(
            Attachment.objects.create(
                ticket=ticket,
                comment=comment,
                file=upload,
                filename=upload.name[:255],
                content_type=(getattr(upload, "content_type", "") or "application/octet-stream")[
                    :100
                ],
                size=upload.size,
                uploaded_by=actor if actor is not None and actor.is_authenticated else None,
            )
        )
    return stored


def ticket_number(pk: int) -> str:
    """TKT-000123 (more digits past 999999). On PostgreSQL the trigger of migration
    tickets 0009 writes the same when the ticket is inserted."""
    return f"TKT-{pk:06d}"


def ticket_create(
    *,
    customer,
    requester,
    title: str,
    description: str = "",
    priority: str = Priority.MEDIUM,
    source: str = Source.WEB,
    category=None,
    attachments=None,
    actor,
    aws_health_event_arn: str | None = None,
) -> Ticket:
    """Open a ticket with the SLA policy in force and its due times; number TKT-000123.

    The requester of a customer ticket must belong to that customer. The ticket is
    auto-assigned by expertise (see ``pick_assignee``).

    Everything that can refuse a ticket (``TicketError``) is checked before the first
    write, so the writes take no savepoint of their own inside a caller's transaction: a
    database error there fails the caller's transaction, as PostgreSQL would.
    """
    ticket = _new_ticket(
        customer=customer,
        requester=requester,
        title=title,
        description=description,
        priority=priority,
        source=source,
        category=category,
        aws_health_event_arn=aws_health_event_arn,
    )
    for upload in attachments or []:
        upload.name = safe_filename(upload.name)
        _validate_attachment(upload)
    with transaction.atomic(savepoint=False):
        ticket.save(force_insert=True)
        ticket.number = ticket_number(ticket.pk)
        if connection.vendor != "postgresql":  # there the insert's trigger wrote it
            ticket.save(update_fields=["number"])
        _event(ticket, actor=actor, kind=EventKind.CREATED, new=ticket.get_status_display())
        _store_attachments(ticket, None, attachments, actor)
        _assign_automatically(ticket)
        notifications.ticket_created(ticket, actor=actor)
    return ticket


def tickets_create(specs: list[dict], *, actor=None) -> list[Ticket]:
    """Open several tickets at once (a batch of AWS Health events): each exactly as
    ``ticket_create`` opens it (checks, SLA, number, history row, auto-assignment,
    notification job), in three inserts for the lot instead of three each. ``specs`` are
    ``ticket_create``'s keyword arguments but ``actor`` and ``attachments``. The first
    refused spec raises ``TicketError`` before anything is written."""
    policies: dict = {}  # the SLA policy and calendar of each tier, read once for the lot

    def sla(tier):
        if tier not in policies:
            policies[tier] = policy_and_calendar(tier)
        return policies[tier]

    if not connection.features.can_return_rows_from_bulk_insert:  # SQLite before 3.35
        return [ticket_create(**spec, actor=actor) for spec in specs]
    tickets = [_new_ticket(**spec, sla=sla) for spec in specs]
    if not tickets:
        return []
    with transaction.atomic(savepoint=False):
        Ticket.objects.bulk_create(tickets)
        for ticket in tickets:
            ticket.number = ticket_number(ticket.pk)
        if connection.vendor != "postgresql":
            Ticket.objects.bulk_update(tickets, ["number"])
        events = TicketEvent.objects.bulk_create(
            [
                _event_row(t, actor=actor, kind=EventKind.CREATED, new=t.get_status_display())
                for t in tickets
            ]
        )
        # bulk_create sends no signals: the ones save() sends are sent here, so that their
        # receivers (the rule engine hears of every ticket change) see each ticket.
        for ticket, event in zip(tickets, events, strict=True):
            post_save.send(
                Ticket,
                instance=ticket,
                created=True,
                update_fields=None,
                raw=False,
                using=ticket._state.db,
            )
            post_save.send(
                TicketEvent,
                instance=event,
                created=True,
                update_fields=None,
                raw=False,
                using=event._state.db,
            )
        for ticket in tickets:
            _assign_automatically(ticket)
        notifications.tickets_created(tickets, actor=actor)
    return tickets


def _new_ticket(
    *,
    customer,
    requester,
    title: str,
    description: str = "",
    priority: str = Priority.MEDIUM,
    source: str = Source.WEB,
    category=None,
    aws_health_event_arn: str | None = None,
    sla=policy_and_calendar,
) -> Ticket:
    """The ticket, checked and with its SLA, not saved yet; TicketError if refused."""
    title = (title or "").strip()
    if not title:
        raise TicketError(_("A title is required."))
    if priority not in Priority.values:
        raise TicketError(_("Unknown priority %(value)s.") % {"value": priority})
    if source not in Source.values:
        raise TicketError(_("Unknown source %(value)s.") % {"value": source})
    if (
        requester is not None
        and customer is not None
        and requester.customer_id
        not in (
            None,
            customer.pk,
        )
    ):
        raise TicketError(_("The requester does not belong to this customer."))

    policy, calendar = sla(customer.service_tier if customer else None)
    opened_at = timezone.now()
    deadlines = deadlines_for(
        policy=policy, priority=priority, opened_at=opened_at, calendar=calendar
    )
    ticket = Ticket(
        customer=customer,
        requester=requester,
        title=title[:500],
        description=description or "",
        priority=priority,
        source=source,
        category=category,
        sla_policy=policy,
        sla_calendar=calendar,
        created_at=opened_at,
        first_response_due_at=deadlines.first_response_due_at,
        resolution_due_at=deadlines.resolution_due_at,
        first_response_at_risk_at=deadlines.first_response_at_risk_at,
        resolution_at_risk_at=deadlines.resolution_at_risk_at,
        aws_health_event_arn=aws_health_event_arn or None,
    )
    try:
        # The related objects were passed in (or looked up) by the caller and the database
        # checks its foreign keys: validating them here only cost a query each.
        ticket.full_clean(
            exclude=[
                "number",
                "sla_policy",
                "sla_calendar",
                "customer",
                "requester",
                "category",
                # Unique: the database refuses a twin (the Health import retries as an
                # update), a look-up here would only cost a query.
                "aws_health_event_arn",
            ]
        )
    except ValidationError as exc:
        raise TicketError("; ".join(exc.messages)) from exc
    return ticket


def _assign_automatically(ticket: Ticket) -> None:
    assignee = pick_assignee(category=ticket.category)
    if assignee is not None:
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee"])
        _event(
            ticket,
            actor=None,
            kind=EventKind.ASSIGNED,
            new=assignee.get_full_name(),
            note=_("Assigned automatically."),
            internal=True,
        )


def pick_assignee(*, category) -> User | None:
    """Auto-assignment by expertise (seed 001, 3.1): among engineers whose skills include
    the category, the primary on-call one if on duty, else the one with the fewest open
    tickets. One query; None when no engineer has the skill."""
    if category is None:
        return None
    on_call = primary_on_call()
    if on_call is not None and on_call.skills.filter(pk=category.pk).exists():
        return on_call
    return (
        User.objects.filter(is_active=True, is_staff=True, skills=category)
        .filter(groups__name__in=["engineer", "manager"])
        .annotate(
            open_tickets=Count(
                "assigned_tickets", filter=Q(assigned_tickets__status__in=OPEN_STATUSES)
            )
        )
        .order_by("open_tickets", "id")
        .first()
    )


def _apply_deadlines(ticket: Ticket) -> list[str]:
    """Recompute both due times from the creation time with the ticket's own policy
    version, calendar and paused time; returns the fields changed."""
    deadlines = deadlines_for(
        policy=ticket.sla_policy,
        priority=ticket.priority,
        opened_at=ticket.created_at,
        calendar=ticket.sla_calendar,
        paused_minutes=ticket.paused_minutes,
    )
    ticket.first_response_due_at = deadlines.first_response_due_at
    ticket.resolution_due_at = deadlines.resolution_due_at
    ticket.first_response_at_risk_at = deadlines.first_response_at_risk_at
    ticket.resolution_at_risk_at = deadlines.resolution_at_risk_at
    return [
        "first_response_due_at",
        "resolution_due_at",
        "first_response_at_risk_at",
        "resolution_at_risk_at",
    ]


def _resume_clock(ticket: Ticket, now) -> list[str]:
    """End a pause: its working minutes extend the resolution deadline."""
    paused = business_minutes_between(ticket.paused_at, now, ticket.sla_calendar)
    ticket.paused_minutes += paused
    ticket.paused_at = None
    _event(
        ticket,
        actor=None,
        kind=EventKind.SLA,
        new=_("Resolution clock resumed"),
        note=_("Paused for %(minutes)d minutes of working time.") % {"minutes": round(paused)},
    )
    return ["paused_at", "paused_minutes", *_apply_deadlines(ticket)]


def check_transition(*, ticket: Ticket, status: str, now=None) -> None:
    """Raise TicketError unless the ticket may move to ``status`` now."""
    old = ticket.status
    if status not in Status.values:
        raise TicketError(_("Unknown status %(value)s.") % {"value": status})
    if status == old:
        return
    if status not in TRANSITIONS.get(old, set()):
        raise TicketError(
            _("A ticket cannot go from %(old)s to %(new)s.")
            % {"old": Status(old).label, "new": Status(status).label}
        )
    now = now or timezone.now()
    if old in (Status.RESOLVED, Status.CLOSED) and status == Status.IN_PROGRESS:
        since = ticket.closed_at or ticket.resolved_at or ticket.updated_at
        if since and now - since > timedelta(days=settings.TICKET_REOPEN_DAYS):
            raise TicketError(
                _("This ticket was closed more than %(days)d days ago; please open a new one.")
                % {"days": settings.TICKET_REOPEN_DAYS}
            )


@transaction.atomic
def ticket_change_status(
    *, ticket: Ticket, status: str, actor, note: str = "", notify: bool = True
) -> Ticket:
    """Move a ticket along the allowed transitions; reopening only within the window.
    The customer is told (unless they made the change, or ``notify`` is off)."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    old = ticket.status
    if status == old:
        return ticket
    now = timezone.now()
    check_transition(ticket=ticket, status=status, now=now)
    fields = ["status", "updated_at"]
    ticket.status = status
    if status == Status.WAITING_CUSTOMER:
        ticket.paused_at = now
        fields.append("paused_at")
    elif old == Status.WAITING_CUSTOMER and ticket.paused_at is not None:
        fields += _resume_clock(ticket, now)
    if status == Status.RESOLVED:
        ticket.resolved_at = now
        fields.append("resolved_at")
    elif status == Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
        if not ticket.resolved_at:
            ticket.resolved_at = now
            fields.append("resolved_at")
    elif old in (Status.RESOLVED, Status.CLOSED):
        ticket.resolved_at = None
        ticket.closed_at = None
        fields += ["resolved_at", "closed_at"]
    ticket.save(update_fields=fields)
    event = _event(
        ticket,
        actor=actor,
        kind=EventKind.STATUS,
        old=Status(old).label,
        new=Status(status).label,
        note=note,
    )
    if notify:
        notifications.status_changed(ticket, event=event, old_status=old, actor=actor, note=note)
    return ticket


@transaction.atomic
def ticket_change_priority(*, ticket: Ticket, priority: str, actor) -> Ticket:
    """Change the priority; both due times are recomputed from the creation time with the
    targets of the policy version the ticket opened under."""
    if priority not in Priority.values:
        raise TicketError(_("Unknown priority %(value)s.") % {"value": priority})
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    old = ticket.priority
    if old == priority:
        return ticket
    ticket.priority = priority
    ticket.save(update_fields=["priority", "updated_at", *_apply_deadlines(ticket)])
    _event(
        ticket,
        actor=actor,
        kind=EventKind.PRIORITY,
        old=Priority(old).label,
        new=Priority(priority).label,
    )
    return ticket


@transaction.atomic
def ticket_escalate(*, ticket: Ticket, level: int, reason: str, actor) -> Ticket:
    """Raise the escalation level (never lowers it); recorded as an internal event."""
    if level < 1:
        raise TicketError(_("The escalation level starts at 1."))
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if level <= ticket.escalation_level:
        return ticket
    old = ticket.escalation_level
    ticket.escalation_level = level
    ticket.save(update_fields=["escalation_level", "updated_at"])
    _event(
        ticket,
        actor=actor,
        kind=EventKind.SLA,
        old=old,
        new=_("Escalation level %(level)d") % {"level": level},
        note=reason,
        internal=True,
    )
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: Ticket, assignee: User | None, actor) -> Ticket:
    if assignee is not None and not access.is_engineer_or_manager(assignee):
        raise TicketError(_("Tickets can only be assigned to engineers or managers."))
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    old = ticket.assignee
    if old == assignee:
        return ticket
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    _event(
        ticket,
        actor=actor,
        kind=EventKind.ASSIGNED,
        old=old.get_full_name() if old else "",
        new=assignee.get_full_name() if assignee else "",
        internal=True,
    )
    return ticket


@transaction.atomic
def comment_add(
    *,
    ticket: Ticket,
    author,
    body: str,
    visibility: str = Visibility.PUBLIC,
    source: str = CommentSource.WEB,
    attachments=None,
    author_name: str = "",
) -> Comment:
    """Add a reply or an internal note.

    Only staff may write internal notes. The first public staff reply sets
    ``first_responded_at``. A customer's reply on a ticket waiting for them moves it back to
    in progress.
    """
    body = (body or "").strip()
    if not body and not attachments:
        raise TicketError(_("Write a message or attach a file."))
    if visibility not in Visibility.values:
        raise TicketError(_("Unknown visibility %(value)s.") % {"value": visibility})
    is_staff_author = author is not None and access.is_staff_user(author)
    is_system = author is None and source == CommentSource.SYSTEM
    if visibility == Visibility.INTERNAL and not (is_staff_author or is_system):
        raise TicketError(_("Only staff can write internal notes."))
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status == Status.CLOSED and not is_staff_author:
        raise TicketError(_("This ticket is closed; reopen it to reply."))

    comment = Comment.objects.create(
        ticket=ticket,
        author=author,
        author_name=author_name,
        body=body,
        visibility=visibility,
        source=source,
    )
    _store_attachments(ticket, comment, attachments, author)
    _event(
        ticket,
        actor=author,
        kind=EventKind.COMMENT,
        new=Visibility(visibility).label,
        internal=visibility == Visibility.INTERNAL,
    )
    fields = ["updated_at"]
    if (
        is_staff_author
        and visibility == Visibility.PUBLIC
        and source != CommentSource.AWS
        and ticket.first_responded_at is None
    ):
        ticket.first_responded_at = comment.created_at
        fields.append("first_responded_at")
    ticket.save(update_fields=fields)
    notifications.comment_added(comment)
    comment_created.send(sender=Comment, comment=comment)
    if not (is_staff_author or is_system) and ticket.status == Status.WAITING_CUSTOMER:
        ticket_change_status(
            ticket=ticket,
            status=Status.IN_PROGRESS,
            actor=author,
            note=_("Customer replied."),
            notify=False,
        )
    return comment


@transaction.atomic
def ticket_confirm_resolved(*, ticket: Ticket, actor) -> Ticket:
    """The customer confirms the resolution: resolved -> closed."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status != Status.RESOLVED:
        raise TicketError(_("Only a resolved ticket can be confirmed."))
    return ticket_change_status(
        ticket=ticket, status=Status.CLOSED, actor=actor, note=_("Resolution confirmed.")
    )


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, actor, reason: str = "") -> Ticket:
    """Resolved or closed -> in progress, within TICKET_REOPEN_DAYS."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise TicketError(_("Only a resolved or closed ticket can be reopened."))
    return ticket_change_status(
        ticket=ticket, status=Status.IN_PROGRESS, actor=actor, note=reason or _("Reopened.")
    )


DETAIL_FIELDS = ("title", "description", "category", "tags")


@transaction.atomic
def ticket_update_details(*, ticket: Ticket, actor, **changes) -> Ticket:
    """Change descriptive fields (title, description, category, tags), with a timeline row."""
    unknown = set(changes) - set(DETAIL_FIELDS)
    if unknown:
        raise TicketError(f"not editable here: {', '.join(sorted(unknown))}")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    changed = [name for name, value in changes.items() if getattr(ticket, name) != value]
    if not changed:
        return ticket
    for name in changed:
        setattr(ticket, name, changes[name])
    if "title" in changed and not (ticket.title or "").strip():
        raise TicketError(_("A title is required."))
    ticket.save(update_fields=[*changed, "updated_at"])
    _event(ticket, actor=actor, kind=EventKind.OTHER, note=", ".join(changed), internal=True)
    return ticket


def close_stale_resolved(*, now=None) -> int:
    """Close resolved tickets the customer never confirmed within TICKET_AUTO_CLOSE_DAYS,
    telling the customer. Idempotent: a closed ticket is not touched again."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TICKET_AUTO_CLOSE_DAYS)
    closed = 0
    for ticket_id in Ticket.objects.filter(
        status=Status.RESOLVED, resolved_at__lte=cutoff
    ).values_list("id", flat=True):
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
            if ticket.status != Status.RESOLVED:
                continue
            ticket = ticket_change_status(
                ticket=ticket,
                status=Status.CLOSED,
                actor=None,
                note=_("Closed automatically: the resolution was not confirmed."),
                notify=False,
            )
            notifications.auto_closed(ticket)
            closed += 1
    return closed
