"""AWS Health events (SPT-006): one processing service for both paths.

EventBridge (via SQS, real time) and the poll (safety net) both normalise what they see
into ``NormalizedEvent`` and call ``process_event`` (the SQS consumer: ``process_events``
for a received batch, which stores new events together and gives the others to
``process_event``), which is idempotent and race-safe:
one HealthEvent and one internal event ticket per event ARN (unique constraints), one
customer ticket and one notice per affected customer (unique per event and customer).
EventBridge and the API spell fields differently (``eventArn``/``arn``, RFC 1123 times,
a list ``eventDescription``, ``affectedAccount``, split events with ``page``/``totalPages``);
delivery is at least once, possibly from a backup region.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from spt_portal import outbox
from spt_portal.models import CustomerAWSAccount
from spt_portal.notifications import notify_channels, notify_email
from tickets import services as ticket_services
from tickets.models import CommentSource, Source, Status, Ticket, Visibility

from .models import HealthEvent, HealthEventCustomer

logger = logging.getLogger(__name__)

# One table, shown in the SLA policy: Health event category -> ticket priority.
PRIORITY_FOR_CATEGORY = {
    "issue": "high",
    "accountNotification": "medium",
    "scheduledChange": "low",
    "investigation": "high",
}
CATEGORY_NAMES = {name.lower(): name for name in PRIORITY_FOR_CATEGORY}


class HealthError(ValueError):
    """Not an AWS Health event we can process (logged; the message goes to the DLQ)."""


@dataclass
class NormalizedEvent:
    arn: str
    service: str = ""
    event_type_code: str = ""
    category: str = ""
    region: str = ""
    scope: str = ""
    status: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    last_updated_time: datetime | None = None
    description: str = ""
    affected_accounts: list[str] = field(default_factory=list)
    affected_entities: list[dict] = field(default_factory=list)
    communication_id: str = ""

    @property
    def priority(self) -> str:
        return PRIORITY_FOR_CATEGORY.get(self.category, "medium")


def parse_time(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    text = str(value)
    try:
        parsed = parsedate_to_datetime(text)  # RFC 1123, as EventBridge sends them
    except (TypeError, ValueError):
        parsed = parse_datetime(text.replace(" ", "T", 1)) or parse_datetime(text)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _description(value) -> str:
    if isinstance(value, list):
        english = [d for d in value if str(d.get("language", "")).startswith("en")]
        chosen = (english or value or [{}])[0]
        return str(chosen.get("latestDescription", ""))
    if isinstance(value, dict):
        return str(value.get("latestDescription", ""))
    return str(value or "")


def _entities(values) -> list[dict]:
    result = []
    for entity in values or []:
        if not isinstance(entity, dict) or not entity.get("entityValue"):
            continue
        result.append(
            {
                "entityValue": str(entity["entityValue"]),
                "awsAccountId": str(entity.get("awsAccountId") or ""),
                "status": str(entity.get("status") or entity.get("statusCode") or ""),
            }
        )
    return result


def normalize_eventbridge(message: dict) -> NormalizedEvent:
    """An EventBridge "AWS Health Event" (or its bare detail, or an AHA re-publication)."""
    if not isinstance(message, dict):
        raise HealthError("not a JSON object")
    detail = message.get("detail") if "detail" in message else message
    if not isinstance(detail, dict):
        raise HealthError("no event detail")
    if "detail" in message:
        source = message.get("source")
        if source not in ("aws.health", "aha"):
            raise HealthError(f"unexpected source {source!r}")
    arn = str(detail.get("eventArn") or detail.get("arn") or "")
    if not arn.startswith("arn:aws"):
        raise HealthError("no event ARN")
    category = str(detail.get("eventTypeCategory") or "")
    entities = _entities(detail.get("affectedEntities"))
    accounts = [str(detail["affectedAccount"])] if detail.get("affectedAccount") else []
    accounts += [e["awsAccountId"] for e in entities if e["awsAccountId"]]
    envelope_account = str(message.get("account") or "").strip("`")
    if (
        not accounts
        and envelope_account.isdigit()
        and str(detail.get("eventScopeCode")) != "PUBLIC"
    ):
        accounts = [envelope_account]
    return NormalizedEvent(
        arn=arn,
        service=str(detail.get("service") or ""),
        event_type_code=str(detail.get("eventTypeCode") or ""),
        category=CATEGORY_NAMES.get(category.lower(), category),
        region=str(
            detail.get("eventRegion") or detail.get("region") or message.get("region") or ""
        ),
        scope=str(detail.get("eventScopeCode") or ""),
        status=str(detail.get("statusCode") or "open"),
        start_time=parse_time(detail.get("startTime")),
        end_time=parse_time(detail.get("endTime")),
        last_updated_time=parse_time(detail.get("lastUpdatedTime")),
        description=_description(detail.get("eventDescription")),
        affected_accounts=sorted(set(accounts)),
        affected_entities=entities,
        communication_id=str(detail.get("communicationId") or ""),
    )


def normalize_api(
    event: dict, *, description: str, accounts: list[str], entities: list[dict]
) -> NormalizedEvent:
    """A DescribeEvents[ForOrganization] event with its details, accounts and entities."""
    return NormalizedEvent(
        arn=str(event["arn"]),
        service=str(event.get("service") or ""),
        event_type_code=str(event.get("eventTypeCode") or ""),
        category=CATEGORY_NAMES.get(str(event.get("eventTypeCategory") or "").lower(), ""),
        region=str(event.get("region") or ""),
        scope=str(event.get("eventScopeCode") or ""),
        status=str(event.get("statusCode") or "open"),
        start_time=parse_time(event.get("startTime")),
        end_time=parse_time(event.get("endTime")),
        last_updated_time=parse_time(event.get("lastUpdatedTime")),
        description=description,
        affected_accounts=sorted(set(accounts)),
        affected_entities=_entities(entities),
    )


# --- processing ------------------------------------------------------------------------


def _title(event: HealthEvent) -> str:
    return f"AWS Health Event: {event.service} - {event.event_type_code}"[:500]


def _format(event: HealthEvent, entities: list[dict]) -> str:
    lines = [
        f"{_('Service')}: {event.service}",
        f"{_('Event type')}: {event.event_type_code} ({event.category})",
        f"{_('Region')}: {event.region or '—'}",
        f"{_('Status')}: {event.status}",
        f"{_('Start')}: {timezone.localtime(event.start_time):%Y-%m-%d %H:%M %Z}"
        if event.start_time
        else "",
        f"{_('End')}: {timezone.localtime(event.end_time):%Y-%m-%d %H:%M %Z}"
        if event.end_time
        else "",
        "",
        event.description,
    ]
    if entities:
        by_account: dict[str, list[str]] = {}
        for entity in entities:
            by_account.setdefault(entity.get("awsAccountId") or "—", []).append(
                entity["entityValue"]
            )
        lines += ["", _("Affected resources") + ":"]
        for account, values in sorted(by_account.items()):
            lines.append(f"  {account}: {', '.join(sorted(values))}")
    return "\n".join(line for line in lines if line is not None).strip()


def _merge_entities(old: list[dict], new: list[dict]) -> list[dict]:
    merged = {(e["entityValue"], e.get("awsAccountId", "")): e for e in old}
    for entity in new:
        merged[(entity["entityValue"], entity.get("awsAccountId", ""))] = entity
    return [merged[key] for key in sorted(merged)]


@dataclass
class Outcome:
    event: HealthEvent
    created: bool = False
    changed: bool = False
    customers_notified: int = 0
    unknown_accounts: list[str] = field(default_factory=list)


def process_event(data: NormalizedEvent) -> Outcome:
    """Create or update the event, its tickets and notices. Idempotent; race-safe."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _process(data)
        except IntegrityError:
            if attempt:
                raise
            logger.info("health event %s: lost a race, retrying as an update", data.arn)
    raise AssertionError("unreachable")  # pragma: no cover


def _process(data: NormalizedEvent) -> Outcome:
    event = HealthEvent.objects.select_for_update().filter(arn=data.arn).first()
    created = event is None
    if created:
        event = HealthEvent(arn=data.arn)  # inserted by the save below (a twin: retried)
    before = _state(event)
    if data.communication_id and data.communication_id in event.communication_ids and not created:
        same = data.status == event.status and data.description == event.description
        if same and not (set(data.affected_accounts) - set(event.affected_accounts)):
            return Outcome(event=event)
    _apply(event, data)
    new_ticket = event.ticket_id is None
    if new_ticket:
        # The event's own ticket first, so that the event row is written once, with it.
        event.ticket = ticket_services.ticket_create(**_event_ticket(event, data), actor=None)
    event.save()
    outcome = Outcome(event=event, created=created, changed=before != _state(event))

    if new_ticket:
        ticket = event.ticket
        if not event.affected_accounts:
            _notify_public(event, ticket)
    elif outcome.changed and not created:
        _post_update(event, event.ticket, Visibility.INTERNAL)

    known = _known_accounts(event.affected_accounts)
    for accounts in _accounts_by_customer(event, known, outcome):
        outcome.customers_notified += _for_customer(event, accounts, outcome)
    if event.status == "closed":
        _close(event)
    return outcome


def _state(event: HealthEvent) -> tuple:
    """What makes an event changed for its tickets (an update posted on them)."""
    return (event.status, event.description, event.last_updated_time, len(event.affected_entities))


def _apply(event: HealthEvent, data: NormalizedEvent) -> None:
    """The message's fields onto the event (a newer description wins; accounts, resources
    and communications seen are merged)."""
    for name in ("service", "event_type_code", "category", "region", "scope"):
        value = getattr(data, name)
        if value:
            setattr(event, name, value)
    event.status = data.status or event.status
    event.start_time = data.start_time or event.start_time
    event.end_time = data.end_time or event.end_time
    if data.last_updated_time and (
        event.last_updated_time is None or data.last_updated_time >= event.last_updated_time
    ):
        event.last_updated_time = data.last_updated_time
        event.description = data.description or event.description
    elif not event.description:
        event.description = data.description
    event.affected_accounts = sorted(set(event.affected_accounts) | set(data.affected_accounts))
    event.affected_entities = _merge_entities(event.affected_entities, data.affected_entities)
    if data.communication_id and data.communication_id not in event.communication_ids:
        event.communication_ids = [*event.communication_ids, data.communication_id]


def _event_ticket(event: HealthEvent, data: NormalizedEvent) -> dict:
    """ticket_create's arguments for the event's own (internal) ticket."""
    return {
        "customer": None,
        "requester": None,
        "title": _title(event),
        "description": _format(event, event.affected_entities),
        "priority": data.priority,
        "source": Source.AWS_HEALTH,
        "aws_health_event_arn": event.arn,
    }


def _customer_ticket(event: HealthEvent, customer, account_ids: set[str]) -> dict:
    """ticket_create's arguments for a customer's ticket for the event."""
    return {
        "customer": customer,
        "requester": None,
        "title": _title(event),
        "description": _format(event, _entities_for(event, account_ids)),
        "priority": PRIORITY_FOR_CATEGORY.get(event.category, "medium"),
        "source": Source.AWS_HEALTH,
    }


def _notify_public(event: HealthEvent, ticket: Ticket) -> None:
    """An event of no account (a public one): the team's channels hear of it."""
    notify_channels(
        event="health.public",
        text=f"[{ticket.number}] {_title(event)} ({event.region})",
        data={"arn": event.arn, "region": event.region},
        obj=ticket,
        dedupe_key=f"health-public:{event.pk}",
    )


def _known_accounts(account_ids) -> dict:
    """The customers' accounts among these (Health on, customer active), by account id."""
    return {
        a.account_id: a
        for a in CustomerAWSAccount.objects.filter(
            account_id__in=account_ids, health_enabled=True, customer__is_active=True
        ).select_related("customer")
    }


def _accounts_by_customer(event: HealthEvent, known: dict, outcome: Outcome) -> list[list]:
    """The event's known accounts grouped by customer; the others are logged."""
    outcome.unknown_accounts = [a for a in event.affected_accounts if a not in known]
    if outcome.unknown_accounts:
        logger.info(
            "health event %s: accounts of no customer: %s", event.arn, outcome.unknown_accounts
        )
    by_customer: dict[int, list] = {}
    for account_id in event.affected_accounts:
        if account_id in known:
            by_customer.setdefault(known[account_id].customer_id, []).append(known[account_id])
    return list(by_customer.values())


def process_events(items: list[NormalizedEvent]) -> list:
    """Several events in the caller's transaction (the SQS consumer's batch), with for
    each, in order, its Outcome or the exception that rolled it back: each event is rolled
    back alone (a savepoint), the others stay.

    Events new to us, which an event storm is made of, are stored together: their tickets,
    event rows, customers' tickets and notices in a dozen statements for the lot instead of
    fifteen each, with exactly what ``process_event`` would store. Any other event (already
    stored, or twice in the batch), and all of them if storing them together fails (another
    consumer stored one meanwhile), go through ``process_event`` one by one."""
    results: list = [None] * len(items)
    seen = Counter(data.arn for data in items)
    # In ARN order (a stable sort: one event's messages keep theirs), so that two consumers
    # lock and insert events in the same order and do not deadlock.
    order = sorted(range(len(items)), key=lambda i: items[i].arn)
    once = [i for i in order if seen[items[i].arn] == 1]
    if len(once) > 1 and connection.features.can_return_rows_from_bulk_insert:
        stored = set(
            HealthEvent.objects.filter(arn__in=[items[i].arn for i in once]).values_list(
                "arn", flat=True
            )
        )
        new = [i for i in once if items[i].arn not in stored]
        if len(new) > 1:
            try:
                with transaction.atomic():
                    outcomes = _create_together([items[i] for i in new])
            except Exception:
                logger.warning(
                    "health: %s new events not stored together; one by one", len(new), exc_info=True
                )
            else:
                for i, outcome in zip(new, outcomes, strict=True):
                    results[i] = outcome
    for i in order:
        if results[i] is None:
            try:
                results[i] = process_event(items[i])
            except Exception as exc:  # rolled back to its savepoint; the caller decides
                results[i] = exc
    return results


def _create_together(items: list[NormalizedEvent]) -> list[Outcome]:
    """New events (no row for their ARNs), as ``_process`` creates each."""
    events, outcomes = [], []
    for data in items:
        event = HealthEvent(arn=data.arn)
        before = _state(event)
        _apply(event, data)
        events.append(event)
        outcomes.append(Outcome(event=event, created=True, changed=before != _state(event)))
    tickets = ticket_services.tickets_create(
        [_event_ticket(event, data) for event, data in zip(events, items, strict=True)]
    )
    for event, ticket in zip(events, tickets, strict=True):
        event.ticket = ticket
    HealthEvent.objects.bulk_create(events)
    for event in events:
        if not event.affected_accounts:
            _notify_public(event, event.ticket)

    known = _known_accounts({a for event in events for a in event.affected_accounts})
    notices = []  # (event, outcome, customer, account ids)
    for event, outcome in zip(events, outcomes, strict=True):
        for accounts in _accounts_by_customer(event, known, outcome):
            notices.append((event, outcome, accounts[0].customer, {a.account_id for a in accounts}))
    tickets = ticket_services.tickets_create(
        [_customer_ticket(event, customer, ids) for event, _o, customer, ids in notices]
    )
    links = HealthEventCustomer.objects.bulk_create(
        [
            HealthEventCustomer(event=event, customer=customer, ticket=ticket)
            for (event, _o, customer, _ids), ticket in zip(notices, tickets, strict=True)
        ]
    )
    if links:
        outbox.enqueue(
            "aws_integrations.jobs.notify_health_customers",
            [
                [link.pk, sorted(ids)]
                for link, (_e, _o, _c, ids) in zip(links, notices, strict=True)
            ],
            queue="notifications",
        )
    for _event, outcome, _customer, _ids in notices:
        outcome.customers_notified += 1
    for event in events:
        if event.status == "closed":
            _close(event)
    return outcomes


def _post_update(event: HealthEvent, ticket: Ticket, visibility: str) -> None:
    ticket_services.comment_add(
        ticket=ticket,
        author=None,
        author_name="AWS Health",
        body=_("AWS Health update (status %(status)s):") % {"status": event.status}
        + "\n\n"
        + event.description,
        visibility=visibility,
        source=CommentSource.SYSTEM,
    )


def _email_customer(customer, *, template: str, context: dict, ticket: Ticket, key: str) -> int:
    """One email per active, deliverable person of the customer (deduplicated by key).
    Returns how many were queued by this call."""
    queued = 0
    for person in customer.users.filter(is_active=True, email_bounced_at__isnull=True):
        log = notify_email(
            to=person.email,
            template=template,
            language=person.preferred_language or customer.default_language,
            tz=person.effective_timezone,
            context={**context, "ticket": ticket, "link": _portal_link(ticket)},
            obj=ticket,
            dedupe_key=f"{key}:{person.email}",
        )
        queued += log is not None
    return queued


def _entities_for(event: HealthEvent, account_ids: set[str]) -> list[dict]:
    """The event's affected entities a customer with these accounts may see."""
    entities = [
        e
        for e in event.affected_entities
        if not e.get("awsAccountId") or e["awsAccountId"] in account_ids
    ]
    if len(event.affected_accounts) > len(account_ids):
        # Several customers: only entities we can attribute to this customer's accounts.
        entities = [e for e in entities if e.get("awsAccountId") in account_ids]
    return entities


def _for_customer(event: HealthEvent, accounts: list, outcome: Outcome) -> int:
    """The customer's ticket for the event (created once) and its notice, which a job
    (``notify_customer``) renders and queues after commit: an event storm is stored fast
    and its emails are written by the workers."""
    customer = accounts[0].customer
    ids = {a.account_id for a in accounts}
    link = HealthEventCustomer.objects.filter(event=event, customer=customer).first()
    if link is None:
        link = HealthEventCustomer.objects.create(
            event=event,
            customer=customer,
            ticket=ticket_services.ticket_create(
                **_customer_ticket(event, customer, ids), actor=None
            ),
        )
    elif outcome.changed:
        _post_update(event, link.ticket, Visibility.PUBLIC)
    if link.notified_at is not None:
        return 0
    # Until the job has run, a repeated message queues it again: it sends nothing twice.
    outbox.enqueue(
        "aws_integrations.jobs.notify_health_customer", link.pk, sorted(ids), queue="notifications"
    )
    return 1


def notify_customer(link_id: int, account_ids: list[str]) -> int:
    """The notice of an event to one customer's people (each keyed: nothing twice); the
    link records when it was sent. Returns how many emails were queued."""
    with transaction.atomic():
        link = (
            HealthEventCustomer.objects.select_for_update(of=("self",))
            .select_related("event", "customer", "ticket")
            .filter(pk=link_id)
            .first()
        )
        if link is None or link.notified_at is not None:
            return 0
        event, ids = link.event, set(account_ids)
        queued = _email_customer(
            link.customer,
            template="health_notice",
            context={
                "event": event,
                "entities": _entities_for(event, ids),
                "accounts": sorted(ids),
            },
            ticket=link.ticket,
            key=f"health:{event.pk}:{link.customer_id}",
        )
        link.notified_at = timezone.now()
        link.save(update_fields=["notified_at"])
        HealthEvent.objects.filter(pk=event.pk).update(last_customer_update_at=link.notified_at)
    return queued


@transaction.atomic
def notify_customers(*, event: HealthEvent, customers, actor) -> int:
    """An engineer tells chosen customers about an event (PUBLIC events reach nobody by
    themselves). Each customer gets one ticket and one notice, as for affected accounts."""
    event = HealthEvent.objects.select_for_update().get(pk=event.pk)
    told = 0
    for customer in customers:
        accounts = list(
            CustomerAWSAccount.objects.filter(
                customer=customer, health_enabled=True
            ).select_related("customer")
        )
        if not accounts:
            continue
        told += _for_customer(event, accounts, Outcome(event=event))
    if event.ticket_id:
        ticket_services.comment_add(
            ticket=event.ticket,
            author=actor,
            body=_("Customers notified: %(names)s")
            % {"names": ", ".join(c.name for c in customers)},
            visibility=Visibility.INTERNAL,
            source=CommentSource.ADMIN,
        )
    return told


def customer_update_posted(comment) -> None:
    """A public staff reply on an affected customer's ticket counts as an update to them."""
    if (
        comment.visibility != Visibility.PUBLIC
        or comment.author is None
        or not comment.author.is_staff
    ):
        return
    link = HealthEventCustomer.objects.filter(ticket_id=comment.ticket_id).first()
    if link is not None:
        HealthEvent.objects.filter(pk=link.event_id).update(last_customer_update_at=timezone.now())


def events_needing_an_update(now=None) -> list[HealthEvent]:
    """Open events with affected customers whose last update to them is older than
    AWS_HEALTH_UPDATE_HOURS (seed 000: 定期向客户汇报)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.AWS_HEALTH_UPDATE_HOURS)
    events = (
        HealthEvent.objects.exclude(status="closed")
        .filter(customers__isnull=False)
        .distinct()
        .select_related("ticket", "ticket__assignee")
    )
    return [e for e in events if (e.last_customer_update_at or e.received_at) < cutoff]


def _portal_link(ticket: Ticket) -> str:
    return f"{settings.SITE_URL}{reverse('portal:ticket_detail', args=[ticket.number])}"


def _close(event: HealthEvent) -> None:
    if event.ticket and event.ticket.status in (
        Status.NEW,
        Status.IN_PROGRESS,
        Status.WAITING_CUSTOMER,
    ):
        ticket_services.ticket_change_status(
            ticket=event.ticket,
            status=Status.RESOLVED,
            actor=None,
            note=_("AWS closed the event; an engineer confirms and closes the ticket."),
            notify=False,
        )
    for link in event.customers.select_related("ticket", "customer").filter(
        closed_notice_at__isnull=True
    ):
        _email_customer(
            link.customer,
            template="health_closed",
            context={"event": event},
            ticket=link.ticket,
            key=f"health-closed:{event.pk}:{link.customer_id}",
        )
        link.closed_notice_at = timezone.now()
        link.save(update_fields=["closed_notice_at"])
