"""Paging, escalation, emergency response and communications for incidents.

- A **page** (seed 002's incident_alerts) goes to its recipients through their channels
  (email with a signed one-click acknowledge link, SMS with a template, Slack/webhook
  channels) and is sent again every ``INCIDENT_PAGE_REPEAT_MINUTES`` until acknowledged,
  at most ``INCIDENT_PAGE_REPEATS`` more times.
- **Escalation** follows the on-call layers: 1 primary on call, 2 secondary on call,
  3 managers (and the directory's management contacts); a layer with nobody is skipped.
  It starts when an incident opens, moves up a layer when the incident is not acknowledged
  within its level's response target or when the layer's page has been repeated in vain,
  and keeps paging the top layer until somebody acknowledges. Grafana OnCall's model: one
  active escalation id per incident; a job whose id or step is not the incident's current
  one is stale and exits quietly, so duplicates and late jobs do nothing.
- **Emergency response** (seed 004 应急响应) pages the roles of the level's notify scope
  from the contact directory and posts the "incident started" message.
- **Communications** (seed 003 templates) are drafted from the incident, edited by a
  person, sent internally (staff channels, email) or externally (affected customers'
  contacts, bilingual, with a link to the incident's notice page), and kept.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sla.models import Level as OnCallLevel
from sla.oncall import on_call
from spt_portal import outbox
from spt_portal.models import User
from spt_portal.notifications import notify_channels, notify_email, notify_sms

from . import timeline
from .models import (
    NOTIFY_SCOPES,
    ROLE_FIELDS,
    Audience,
    Communication,
    CommunicationKind,
    ContactRole,
    EmergencyContact,
    Incident,
    IncidentStatus,
    Page,
    PageChannel,
    PageKind,
    PageStatus,
    Role,
    TimelineKind,
)

logger = logging.getLogger(__name__)

ACK_SALT = "incidents.page-ack"
TOP_LAYER = 3
LAYER_NAMES = {1: "primary on call", 2: "secondary on call", 3: "managers"}


class PagingError(ValueError):
    pass


def layer_label(layer: int) -> str:
    return {
        1: _("primary on call"),
        2: _("secondary on call"),
        3: _("managers"),
    }.get(min(layer, TOP_LAYER), "")


# --- who -----------------------------------------------------------------------------


def layer_people(layer: int) -> list[User]:
    """The people of an escalation layer now."""
    if layer >= TOP_LAYER:
        managers = User.objects.filter(
            is_active=True, is_staff=True, groups__name="manager"
        ).distinct()
        contacts = User.objects.filter(
            emergency_contacts__role=ContactRole.MANAGEMENT,
            emergency_contacts__is_active=True,
            is_active=True,
        )
        return list(dict.fromkeys([*managers.order_by("id"), *contacts.order_by("id")]))
    shift = on_call().get(OnCallLevel.PRIMARY if layer == 1 else OnCallLevel.SECONDARY)
    return [shift.user] if shift else []


def _recipients_of_users(users) -> list[str]:
    out: list[str] = []
    for user in users:
        if user.email:
            out.append(user.email)
        if user.phone:
            out.append(user.phone)
    return list(dict.fromkeys(out))


def scope_contacts(level: str) -> list[EmergencyContact]:
    return list(
        EmergencyContact.objects.filter(is_active=True, role__in=NOTIFY_SCOPES[level])
        .select_related("user")
        .order_by("role", "position", "id")
    )


def scope_recipients(level: str) -> list[str]:
    """Email addresses and SMS numbers of the level's notify scope (seed 003), with the
    people on call now when the scope includes the on-call role."""
    out: list[str] = []
    for contact in scope_contacts(level):
        if contact.contact_email:
            out.append(contact.contact_email)
        if contact.notify_by_sms and contact.contact_phone:
            out.append(contact.contact_phone)
    if ContactRole.ON_CALL in NOTIFY_SCOPES[level]:
        out += _recipients_of_users(s.user for s in on_call().values())
    return list(dict.fromkeys(out))


# --- acknowledge links ---------------------------------------------------------------


def ack_token(page: Page, recipient: str) -> str:
    return signing.dumps({"p": page.pk, "r": recipient}, salt=ACK_SALT, compress=True)


def read_ack_token(token: str) -> tuple[int, str] | None:
    """(page id, recipient) of a valid, unexpired token; None otherwise."""
    try:
        data = signing.loads(token, salt=ACK_SALT, max_age=settings.INCIDENT_ACK_LINK_HOURS * 3600)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    return int(data["p"]), str(data.get("r", ""))


def ack_url(page: Page, recipient: str) -> str:
    return settings.SITE_URL + reverse("incidents:page_ack", args=[ack_token(page, recipient)])


# --- pages ---------------------------------------------------------------------------


def _page_text(incident: Incident) -> str:
    return _("%(level)s incident %(number)s: %(title)s") % {
        "level": incident.level,
        "number": incident.number,
        "title": incident.title,
    }


def page_create(
    *,
    incident: Incident,
    kind: str,
    recipients,
    channels=(PageChannel.EMAIL, PageChannel.SMS),
    name: str = "",
    message: str = "",
    severity: str = "",
    escalation_level: int = 0,
    repeat: bool = True,
    actor=None,
) -> Page | None:
    """Create a page and send it (after commit). None when there is nobody to page; the
    timeline says so, since an unpaged incident is a gap someone must see."""
    recipients = [r.strip() for r in recipients if r and r.strip()]
    recipients = list(dict.fromkeys(recipients))
    channels = [c for c in channels if c in PageChannel.values] or [PageChannel.EMAIL]
    if not recipients and not {PageChannel.SLACK, PageChannel.WEBHOOK} & set(channels):
        timeline.record(
            incident,
            kind=TimelineKind.PAGE,
            text=_("Nobody to page for %(name)s: check the on-call schedule and contacts.")
            % {"name": name or PageKind(kind).label},
        )
        return None
    now = timezone.now()
    page = Page.objects.create(
        incident=incident,
        kind=kind,
        name=(name or str(PageKind(kind).label))[:255],
        message=message or _page_text(incident),
        severity=severity or incident.severity,
        channels=channels,
        recipients=recipients,
        escalation_level=escalation_level,
        triggered_at=now,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        next_repeat_at=now if repeat else None,
    )
    timeline.record(
        incident,
        kind=TimelineKind.PAGE,
        actor=actor,
        text=_("Paged %(who)s (%(channels)s): %(name)s")
        % {"who": ", ".join(recipients) or "—", "channels": ", ".join(channels), "name": page.name},
        data={"page": page.pk},
    )
    outbox.enqueue("incidents.jobs.send_page", page.pk, 0)
    return page


def page_send(page_id: int, sends: int) -> str:
    """Send the page for the ``sends``-th time (0 = first). Idempotent: a page already sent
    that often, or no longer active, is skipped. Schedules the next repeat."""
    with transaction.atomic():
        page = Page.objects.select_for_update().select_related("incident").get(pk=page_id)
        if page.status != PageStatus.ACTIVE or page.sends != sends:
            return "stale"
        superseded = (
            sends > 0
            and page.kind in (PageKind.ON_CALL, PageKind.ESCALATION)
            and page.incident.escalation_level > page.escalation_level
        )
        if superseded:  # a later layer has it now: this layer's repeats end
            Page.objects.filter(pk=page.pk).update(next_repeat_at=None)
            return "stale"
        _deliver(page)
        page.sends += 1
        repeats_left = (
            page.next_repeat_at is not None and page.sends <= settings.INCIDENT_PAGE_REPEATS
        )
        page.next_repeat_at = (
            timezone.now() + timedelta(minutes=settings.INCIDENT_PAGE_REPEAT_MINUTES)
            if repeats_left
            else None
        )
        page.save(update_fields=["sends", "next_repeat_at"])
    logger.info("page %s (%s) sent, time %s", page.pk, page.incident.number, page.sends)
    return "sent"


def _deliver(page: Page) -> None:
    incident = page.incident
    users = {u.email: u for u in User.objects.filter(email__in=page.recipients, is_active=True)}
    for recipient in page.recipients:
        key = f"page:{page.pk}:{page.sends}:{recipient}"
        if "@" in recipient:
            if PageChannel.EMAIL not in page.channels:
                continue
            user = users.get(recipient.lower())
            notify_email(
                to=recipient,
                template="incident_page",
                language=user.preferred_language if user else settings.LANGUAGE_CODE,
                tz=user.effective_timezone if user else "",
                context={
                    "page": page,
                    "incident": incident,
                    "repeat": page.sends,
                    "ack_url": ack_url(page, recipient),
                    "incident_url": settings.SITE_URL + incident.get_absolute_url(),
                },
                obj=incident,
                dedupe_key=key,
            )
        elif PageChannel.SMS in page.channels:
            notify_sms(
                phone=recipient,
                template_id=settings.SMS_TEMPLATE_INCIDENT_PAGE,
                params={
                    "number": incident.number,
                    "level": incident.level,
                    "title": incident.title[:30],
                },
                obj=incident,
                dedupe_key=key,
            )
    if {PageChannel.SLACK, PageChannel.WEBHOOK} & set(page.channels):
        notify_channels(
            event="incident.page",
            text=f"{page.message} ({settings.SITE_URL}{incident.get_absolute_url()})",
            data={
                "incident": incident.number,
                "level": incident.level,
                "page": page.pk,
                "escalation_level": page.escalation_level,
            },
            obj=incident,
            dedupe_key=f"page:{page.pk}:{page.sends}",
        )


@transaction.atomic
def page_acknowledge(*, page: Page, actor=None, via: str = "") -> Page:
    """Acknowledge a page; its incident is acknowledged too, which stops the escalation."""
    from . import services

    page = Page.objects.select_for_update().select_related("incident").get(pk=page.pk)
    if page.status == PageStatus.ACTIVE:
        _mark_acknowledged(page, actor, via, timezone.now())
    services.incident_acknowledge(
        incident=page.incident,
        actor=actor,
        via=_("page acknowledged by %(who)s") % {"who": _who(actor, via)},
    )
    page.refresh_from_db()
    return page


def _who(actor, via: str) -> str:
    if actor is not None and actor.is_authenticated:
        return actor.get_full_name()
    return via or _("someone")


def _mark_acknowledged(page: Page, actor, via: str, now) -> None:
    page.status = PageStatus.ACKNOWLEDGED
    page.acknowledged_at = now
    page.acknowledged_by = actor if actor is not None and actor.is_authenticated else None
    page.acknowledged_via = (via or "")[:254]
    page.next_repeat_at = None
    page.save(
        update_fields=[
            "status",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledged_via",
            "next_repeat_at",
        ]
    )


@transaction.atomic
def page_resolve(*, page: Page, actor=None) -> Page:
    page = Page.objects.select_for_update().get(pk=page.pk)
    if page.status != PageStatus.RESOLVED:
        page.status = PageStatus.RESOLVED
        page.resolved_at = timezone.now()
        page.next_repeat_at = None
        page.save(update_fields=["status", "resolved_at", "next_repeat_at"])
    return page


def resolve_pages(*, incident: Incident) -> int:
    return Page.objects.filter(
        incident=incident, status__in=[PageStatus.ACTIVE, PageStatus.ACKNOWLEDGED]
    ).update(status=PageStatus.RESOLVED, resolved_at=timezone.now(), next_repeat_at=None)


# --- escalation ----------------------------------------------------------------------


def _cycle() -> timedelta:
    """How long one layer is paged before the next one is: the first send and repeats."""
    return timedelta(
        minutes=settings.INCIDENT_PAGE_REPEAT_MINUTES * (settings.INCIDENT_PAGE_REPEATS + 1)
    )


def _next_escalation_at(incident: Incident, now):
    at = now + _cycle()
    if incident.respond_due_at and incident.respond_due_at > now:
        at = min(at, incident.respond_due_at)
    return at


def _page_layer(incident: Incident, layer: int, *, actor, reason: str, extra=()) -> int:
    """Page the first layer from ``layer`` up that has somebody; returns the layer paged."""
    layer = max(1, layer)
    people = layer_people(layer)
    while not people and layer < TOP_LAYER:
        timeline.record(
            incident,
            kind=TimelineKind.ESCALATION,
            text=_("Nobody in layer %(layer)d (%(name)s): skipped.")
            % {"layer": layer, "name": layer_label(layer)},
        )
        layer += 1
        people = layer_people(layer)
    kind = PageKind.ON_CALL if layer == 1 and not reason else PageKind.ESCALATION
    page_create(
        incident=incident,
        kind=kind,
        name=_("%(number)s escalation level %(layer)d (%(name)s)")
        % {"number": incident.number, "layer": layer, "name": layer_label(layer)}
        if kind == PageKind.ESCALATION
        else _("%(number)s: on-call page") % {"number": incident.number},
        message=f"{_page_text(incident)}\n{reason}".strip(),
        recipients=_recipients_of_users(people) + list(extra),
        channels=[PageChannel.EMAIL, PageChannel.SMS, PageChannel.SLACK],
        escalation_level=layer,
        actor=actor,
    )
    return layer


def start_escalation(*, incident: Incident, actor=None) -> None:
    """Called when an incident opens: page the primary on call and arm the escalation."""
    if incident.status != IncidentStatus.PENDING:
        return
    now = timezone.now()
    layer = _page_layer(incident, 1, actor=actor, reason="")
    incident.escalation_level = layer
    incident.escalation_id = uuid.uuid4()
    incident.next_escalation_at = _next_escalation_at(incident, now)
    incident.save(update_fields=["escalation_level", "escalation_id", "next_escalation_at"])


def stop_escalation(*, incident: Incident, actor=None, via: str = "") -> None:
    """Acknowledged: no more escalation steps, and every active page is acknowledged."""
    now = timezone.now()
    Incident.objects.filter(pk=incident.pk).update(escalation_id=None, next_escalation_at=None)
    incident.escalation_id, incident.next_escalation_at = None, None
    for page in Page.objects.select_for_update().filter(
        incident=incident, status=PageStatus.ACTIVE
    ):
        _mark_acknowledged(page, actor, via, now)


def escalation_step(incident_id: int, escalation_id: str, level: int) -> str:
    """One automatic escalation step: from ``level`` to the next layer. Exits quietly
    ("stale") when the incident was acknowledged, its escalation replaced, the step already
    taken, or it is not due yet."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
        now = timezone.now()
        if (
            incident is None
            or incident.status != IncidentStatus.PENDING
            or str(incident.escalation_id) != str(escalation_id)
            or incident.escalation_level != level
            or incident.next_escalation_at is None
            or incident.next_escalation_at > now
        ):
            return "stale"
        target = min(level + 1, TOP_LAYER)
        overdue = incident.respond_due_at is not None and incident.respond_due_at <= now
        reason = (
            _("Not acknowledged within the %(level)s response target.") % {"level": incident.level}
            if overdue
            else _("The page was not acknowledged.")
        )
        # Earlier layers' pages stop repeating: the next layer has it now.
        Page.objects.filter(incident=incident, status=PageStatus.ACTIVE).update(next_repeat_at=None)
        paged = _page_layer(incident, target, actor=None, reason=reason)
        incident.escalation_level = paged
        incident.escalated_at = now
        incident.next_escalation_at = _next_escalation_at(incident, now)
        incident.save(update_fields=["escalation_level", "escalated_at", "next_escalation_at"])
        timeline.record(
            incident,
            kind=TimelineKind.ESCALATION,
            pinned=True,
            text=_("Escalated automatically to level %(layer)d (%(name)s). %(reason)s")
            % {"layer": paged, "name": layer_label(paged), "reason": reason},
            data={"level": paged, "automatic": True},
        )
    logger.info("incident %s escalated to level %s", incident.number, paged)
    return "escalated"


@transaction.atomic
def incident_escalate(
    *,
    incident: Incident,
    level: int,
    reason: str,
    actor,
    notify_users=(),
    auto_assign: bool = False,
) -> Incident:
    """Manual escalation (seed 002 POST /api/v1/incidents/escalate): page the layer of
    ``level`` and the named users; ``auto_assign`` gives the layer's first person the
    on-call role (layers 1–2) or the commander role (managers)."""
    from . import services

    if level < 1:
        raise PagingError(_("The escalation level starts at 1."))
    reason = (reason or "").strip()
    if not reason:
        raise PagingError(_("Say why the incident is escalated."))
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.status == IncidentStatus.CLOSED:
        raise PagingError(_("A closed incident cannot be escalated."))
    now = timezone.now()
    users = list(User.objects.filter(pk__in=list(notify_users), is_active=True))
    missing = set(notify_users) - {u.pk for u in users}
    if missing:
        raise PagingError(
            _("Unknown users: %(ids)s") % {"ids": ", ".join(str(i) for i in sorted(missing))}
        )
    Page.objects.filter(incident=incident, status=PageStatus.ACTIVE).update(next_repeat_at=None)
    paged = _page_layer(
        incident, level, actor=actor, reason=reason, extra=_recipients_of_users(users)
    )
    incident.escalation_level = max(level, paged)
    incident.escalated_at = now
    fields = ["escalation_level", "escalated_at"]
    if incident.status == IncidentStatus.PENDING:
        incident.escalation_id = uuid.uuid4()
        incident.next_escalation_at = _next_escalation_at(incident, now)
        fields += ["escalation_id", "next_escalation_at"]
    incident.save(update_fields=fields)
    timeline.record(
        incident,
        kind=TimelineKind.ESCALATION,
        actor=actor,
        pinned=True,
        text=_("Escalated to level %(layer)d (%(name)s): %(reason)s")
        % {"layer": incident.escalation_level, "name": layer_label(paged), "reason": reason},
        data={"level": incident.escalation_level, "automatic": False},
    )
    if auto_assign:
        people = layer_people(paged)
        if people:
            role = Role.COMMANDER if paged >= TOP_LAYER else Role.ON_CALL
            services.incident_assign_role(
                incident=incident,
                role=role,
                user=people[0],
                actor=actor,
                note=_("Assigned by escalation."),
            )
    return incident


def tick(now=None) -> dict[str, int]:
    """Cron, every minute: queue the page repeats and escalation steps that are due. The
    jobs carry the step they expect, so queueing one twice does nothing twice."""
    now = now or timezone.now()
    steps = list(
        Incident.objects.filter(
            status=IncidentStatus.PENDING,
            escalation_id__isnull=False,
            next_escalation_at__lte=now,
        ).values_list("id", "escalation_id", "escalation_level")[:200]
    )
    for incident_id, escalation_id, level in steps:
        outbox.enqueue("incidents.jobs.escalate_incident", incident_id, str(escalation_id), level)
    pages = list(
        Page.objects.filter(status=PageStatus.ACTIVE, next_repeat_at__lte=now).values_list(
            "id", "sends"
        )[:500]
    )
    for page_id, sends in pages:
        outbox.enqueue("incidents.jobs.send_page", page_id, sends)
    if pages or steps:
        logger.info(
            "paging tick: %s page repeats, %s escalation steps queued", len(pages), len(steps)
        )
    return {"pages": len(pages), "escalations": len(steps)}


# --- emergency response ----------------------------------------------------------------


@transaction.atomic
def emergency_response(*, incident: Incident, actor) -> Page | None:
    """Seed 004 应急响应: page the level's notify scope, post "incident started", start
    the clock. Once per incident."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.emergency_started_at is not None:
        raise PagingError(
            _("The emergency response started at %(at)s.")
            % {"at": timezone.localtime(incident.emergency_started_at).strftime("%Y-%m-%d %H:%M")}
        )
    if incident.status == IncidentStatus.CLOSED:
        raise PagingError(_("The incident is closed."))
    incident.emergency_started_at = timezone.now()
    incident.save(update_fields=["emergency_started_at"])
    subject, body = communication_draft(
        incident=incident, kind=CommunicationKind.STARTED, audience=Audience.INTERNAL
    )
    page = page_create(
        incident=incident,
        kind=PageKind.EMERGENCY,
        name=_("%(number)s emergency response") % {"number": incident.number},
        message=body,
        recipients=scope_recipients(incident.level),
        channels=[PageChannel.EMAIL, PageChannel.SMS, PageChannel.SLACK],
        escalation_level=incident.escalation_level,
        repeat=False,
        actor=actor,
    )
    notify_channels(
        event="incident.started",
        text=body,
        data={"incident": incident.number, "level": incident.level},
        obj=incident,
        dedupe_key=f"incident-started:{incident.pk}",
    )
    timeline.record(
        incident,
        kind=TimelineKind.COMMUNICATION,
        actor=actor,
        pinned=True,
        text=_("Emergency response started; notify scope: %(scope)s")
        % {"scope": ", ".join(str(ContactRole(r).label) for r in NOTIFY_SCOPES[incident.level])},
    )
    return page


# --- communications ------------------------------------------------------------------


def _people_of(incident: Incident) -> dict:
    return {
        role: getattr(incident, field)
        for role, field in ROLE_FIELDS.items()
        if getattr(incident, field) is not None
    }


def _duration(incident: Incident) -> str:
    end = incident.recovered_at or timezone.now()
    minutes = int((end - incident.detected_at).total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def communication_draft(*, incident: Incident, kind: str, audience: str, language=None):
    """(subject, body) from seed 003's templates, prefilled from the incident. External
    notices are bilingual (Chinese first, then English)."""
    context = {
        "incident": incident,
        "people": _people_of(incident),
        "duration": _duration(incident),
        "link": settings.SITE_URL + incident.get_absolute_url(),
        "notice_link": settings.SITE_URL
        + reverse("incidents:portal_incident", args=[incident.number]),
        "now": timezone.localtime(),
    }
    template = f"incidents/comms/{kind}_{audience}"
    if audience == Audience.EXTERNAL:
        parts = []
        for lang in ("zh-hans", "en"):
            with translation.override(lang):
                parts.append(render_to_string(f"{template}.txt", context).strip())
        with translation.override("zh-hans"):
            subject_zh = render_to_string(f"{template}.subject.txt", context).strip()
        with translation.override("en"):
            subject_en = render_to_string(f"{template}.subject.txt", context).strip()
        return f"{subject_zh} / {subject_en}"[:300], "\n\n---\n\n".join(parts)
    with translation.override(language or translation.get_language()):
        subject = render_to_string(f"{template}.subject.txt", context).strip()
        body = render_to_string(f"{template}.txt", context).strip()
    return " ".join(subject.split())[:300], body


@transaction.atomic
def communication_send(
    *, incident: Incident, kind: str, audience: str, subject: str, body: str, actor
) -> Communication:
    """Send a (possibly edited) message and keep it; recorded on the timeline.

    Internal: the staff channels and the email of the level's notify scope. External: every
    active contact of each affected customer, with a link to the incident's notice page.
    """
    if kind not in CommunicationKind.values:
        raise PagingError(_("Unknown message kind %(value)s.") % {"value": kind})
    if audience not in Audience.values:
        raise PagingError(_("Unknown audience %(value)s.") % {"value": audience})
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject or not body:
        raise PagingError(_("A subject and a message are required."))
    Incident.objects.select_for_update().filter(pk=incident.pk).first()
    just_sent = Communication.objects.filter(
        incident=incident,
        audience=audience,
        subject=subject[:300],
        body=body,
        sent_at__gte=timezone.now() - timedelta(minutes=2),
    )
    if just_sent.exists():  # a double click, or the same form sent twice
        raise PagingError(_("This message was sent a moment ago; it is not sent twice."))
    communication = Communication.objects.create(
        incident=incident,
        kind=kind,
        audience=audience,
        subject=subject[:300],
        body=body,
        sent_by=actor if actor is not None and actor.is_authenticated else None,
    )
    sent = 0
    if audience == Audience.INTERNAL:
        sent += notify_channels(
            event=f"incident.{kind}",
            text=f"{subject}\n{body}",
            data={"incident": incident.number, "kind": kind},
            obj=incident,
            dedupe_key=f"comm:{communication.pk}",
        )
        for address in scope_recipients(incident.level):
            if "@" not in address:
                continue
            sent += bool(_email_communication(communication, address, internal=True))
    else:
        from spt_portal.models import User as Person

        contacts = Person.objects.filter(
            customer__in=incident.affected_customers.all(), is_active=True
        ).exclude(email="")
        for person in contacts:
            sent += bool(
                _email_communication(communication, person.email, internal=False, user=person)
            )
    communication.recipients_count = sent
    communication.save(update_fields=["recipients_count"])
    timeline.record(
        incident,
        kind=TimelineKind.COMMUNICATION,
        actor=actor,
        pinned=kind != CommunicationKind.UPDATE,
        text=_("%(audience)s message sent to %(count)d recipients: %(subject)s")
        % {
            "audience": Audience(audience).label,
            "count": sent,
            "subject": subject,
        },
        data={"communication": communication.pk},
    )
    return communication


def _email_communication(communication, address: str, *, internal: bool, user=None):
    incident = communication.incident
    link = (
        settings.SITE_URL + incident.get_absolute_url()
        if internal
        else settings.SITE_URL + reverse("incidents:portal_incident", args=[incident.number])
    )
    return notify_email(
        to=address,
        template="incident_communication",
        language=(user.preferred_language if user else "") or settings.LANGUAGE_CODE,
        tz=user.effective_timezone if user else "",
        context={"communication": communication, "incident": incident, "link": link},
        obj=incident,
        dedupe_key=f"comm:{communication.pk}:{address}",
        automatic=True,
    )
