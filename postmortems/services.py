"""Every write to a postmortem or an action item goes through here: pages, the API, jobs.

A postmortem belongs to one incident (seed 003's template, prefilled from it), moves
draft → in review → approved → published (seed 004; a manager approves), and its
publication closes the incident once the urgent (P0/P1) action items have an owner and a
due date. Each step is written on the incident's timeline.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents import timeline
from incidents.models import (
    POSTMORTEM_LEVELS,
    ContactRole,
    EmergencyContact,
    Incident,
    IncidentStatus,
    TimelineKind,
)
from spt_portal import access
from tickets.models import Article

from .models import (
    OPEN_ACTION_STATUSES,
    SECTIONS,
    TRANSITIONS,
    ActionItem,
    ActionPriority,
    ActionStatus,
    PostMortem,
    PostMortemStatus,
    ReviewComment,
)

logger = logging.getLogger(__name__)

# Seed 003: the review meeting is held 24-48 hours after the incident is resolved.
MEETING_AFTER = timedelta(hours=24)
MEETING_BEFORE = timedelta(hours=48)
# A postmortem not in review this long after recovery is flagged and escalated.
REVIEW_DEADLINE = timedelta(hours=48)
CREATABLE_STATUSES = (
    IncidentStatus.RECOVERED,
    IncidentStatus.PENDING_POSTMORTEM,
    IncidentStatus.CLOSED,
)
# Free-text fields a person edits (the Markdown sections and a few facts).
EDITABLE_FIELDS = (
    "title",
    *SECTIONS,
    "affected_users",
    "business_loss",
    "customer_summary",
)
URGENT_ACTION_PRIORITIES = (ActionPriority.P0, ActionPriority.P1)
TIMELINE_LIMIT = 300


class PostmortemError(ValueError):
    """A domain error: shown as a form error or a 4xx JSON body."""


class PostmortemConflict(PostmortemError):
    """The editor sent an older version than the stored one."""


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _fmt(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _duration(start, end) -> str:
    if not start or not end:
        return "—"
    minutes = max(0, int((end - start).total_seconds() // 60))
    hours, mins = divmod(minutes, 60)
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def _require_worker(actor) -> None:
    if actor is not None and not access.is_engineer_or_manager(actor):
        raise PostmortemError(_("Only engineers and managers change postmortems."))


# --- prefill ---------------------------------------------------------------------------


def _line(label, value) -> str:
    return f"- {label}: {value}"


def prefill_summary(incident: Incident) -> str:
    """Seed 003 "基本信息": level, start, recovery, duration and scope."""
    customers = ", ".join(c.name for c in incident.affected_customers.all()) or "—"
    affected = _("affected customers")
    scope = f"{incident.service or '—'}; {affected}: {customers}"
    lines = [
        _line(_("Level"), incident.level),
        _line(_("Started"), _fmt(incident.detected_at)),
        _line(_("Recovered"), _fmt(incident.recovered_at)),
        _line(_("Duration"), _duration(incident.detected_at, incident.recovered_at)),
        _line(_("Scope"), scope),
    ]
    return "\n".join(lines)


def prefill_timeline(incident: Incident) -> str:
    """Seed 003 "事件时间线" from the incident's key moments: every pinned entry and every
    automatic one (notes that were not pinned stay out)."""
    entries = (
        incident.timeline.filter(Q(pinned=True) | ~Q(kind=TimelineKind.NOTE))
        .select_related("author")
        .order_by("at", "id")[:TIMELINE_LIMIT]
    )
    lines = []
    for entry in entries:
        text = " — ".join(line.strip() for line in entry.text.splitlines() if line.strip())
        star = "**" if entry.pinned else ""
        lines.append(f"- {_fmt(entry.at)} {star}{text}{star}")
    return "\n".join(lines)


def prefill_impact(incident: Incident) -> str:
    lines = [
        _line(_("Affected users"), ""),
        _line(_("Business loss"), ""),
        _line(_("Data impact"), ""),
    ]
    if incident.impact_analysis:
        lines += ["", incident.impact_analysis]
    return "\n".join(lines)


def proposed_meeting_at(incident: Incident, now=None) -> datetime | None:
    """Recovery + 24 h on the hour (seed 003's window), never in the past."""
    if incident.recovered_at is None:
        return None
    now = now or timezone.now()
    start = max(incident.recovered_at + MEETING_AFTER, now)
    start = timezone.localtime(start)
    if start.minute or start.second or start.microsecond:
        start = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return start


def default_participants(incident: Incident) -> list:
    """Seed 003: the commander, tech lead and the engineers who worked it; the product
    owner too for P0/P1."""
    people = [
        incident.commander,
        incident.tech_lead,
        incident.comms_lead,
        incident.on_call_engineer,
    ]
    roles = [ContactRole.DEVELOPER]
    if incident.level in POSTMORTEM_LEVELS:
        roles.append(ContactRole.PRODUCT_OWNER)
    contacts = EmergencyContact.objects.filter(
        is_active=True, role__in=roles, user__isnull=False, user__is_active=True
    ).select_related("user")
    people += [contact.user for contact in contacts]
    return list(dict.fromkeys(p for p in people if p is not None))


# --- create and edit -------------------------------------------------------------------


@transaction.atomic
def postmortem_create(*, incident: Incident, actor) -> tuple[PostMortem, bool]:
    """The incident's postmortem, prefilled; the existing one when it already has one."""
    _require_worker(actor)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    existing = PostMortem.objects.filter(incident=incident).first()
    if existing is not None:
        return existing, False
    if incident.status not in CREATABLE_STATUSES:
        raise PostmortemError(
            _("A postmortem is written once the incident has recovered (it is %(status)s).")
            % {"status": _label(IncidentStatus, incident.status)}
        )
    author = actor if actor is not None and actor.is_authenticated else None
    postmortem = PostMortem.objects.create(
        incident=incident,
        title=incident.title,
        summary=prefill_summary(incident),
        timeline=prefill_timeline(incident),
        root_cause=incident.root_cause,
        impact=prefill_impact(incident),
        author=author,
    )
    participants = default_participants(incident)
    if author is not None and access.is_engineer_or_manager(author):
        participants.append(author)
    postmortem.participants.set(list(dict.fromkeys(participants)))
    timeline.record(
        incident,
        kind=TimelineKind.POSTMORTEM,
        actor=actor,
        text=_("Postmortem started."),
        data={"postmortem": postmortem.pk},
    )
    logger.info("postmortem %s created for %s", postmortem.pk, incident.number)
    return postmortem, True


def _locked(postmortem: PostMortem) -> PostMortem:
    return PostMortem.objects.select_for_update().select_related("incident").get(pk=postmortem.pk)


@transaction.atomic
def postmortem_update(*, postmortem: PostMortem, actor, version: int | None = None, **changes):
    """Save edited sections (the editor's autosave and the API). ``version`` is the one the
    editor loaded: an older one is refused (somebody saved in between) so nothing they
    wrote is overwritten unseen."""
    _require_worker(actor)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise PostmortemError(
            _("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))}
        )
    postmortem = _locked(postmortem)
    if not postmortem.is_editable:
        raise PostmortemError(
            _("A postmortem that is %(status)s is not edited; send it back to draft first.")
            % {"status": postmortem.get_status_display()}
        )
    if version is not None and version != postmortem.version:
        raise PostmortemConflict(
            _(
                "Somebody saved this postmortem at %(at)s after you opened it; reload to see "
                "their changes (your text is still in your editor)."
            )
            % {"at": _fmt(postmortem.updated_at)}
        )
    if "title" in changes and not (changes["title"] or "").strip():
        raise PostmortemError(_("A title is required."))
    changed = []
    for name, value in changes.items():
        if name != "affected_users":
            value = (value or "").replace("\r\n", "\n")
        if getattr(postmortem, name) != value:
            setattr(postmortem, name, value)
            changed.append(name)
    if changed:
        postmortem.version = F("version") + 1
        postmortem.save(update_fields=[*changed, "version", "updated_at"])
        postmortem.refresh_from_db(fields=["version", "updated_at"])
    return postmortem


@transaction.atomic
def postmortem_set_participants(*, postmortem: PostMortem, users, actor) -> PostMortem:
    _require_worker(actor)
    users = list(users)
    outsiders = [u for u in users if not access.is_staff_user(u)]
    if outsiders:
        raise PostmortemError(_("Participants are staff members."))
    postmortem.participants.set(users)
    return postmortem


# --- the review meeting ----------------------------------------------------------------


def meeting_in_window(postmortem: PostMortem) -> bool | None:
    recovered = postmortem.incident.recovered_at
    if postmortem.meeting_at is None or recovered is None:
        return None
    return recovered + MEETING_AFTER <= postmortem.meeting_at <= recovered + MEETING_BEFORE


def invitation_ics(postmortem: PostMortem, attendees: list) -> str:
    """An iCalendar REQUEST for the review meeting; one UID per postmortem, its SEQUENCE
    raised on each reschedule so calendars update the event instead of adding one."""
    from icalendar import Calendar, Event, vCalAddress, vText

    incident = postmortem.incident
    link = settings.SITE_URL + postmortem.get_absolute_url()
    calendar = Calendar()
    calendar.add("prodid", "-//SPT Portal//Postmortems//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    host = settings.SITE_URL.split("//", 1)[-1].split("/", 1)[0] or "spt-portal"
    event.add("uid", f"postmortem-{postmortem.pk}@{host}")
    event.add("sequence", postmortem.meeting_sequence)
    event.add("dtstamp", timezone.now())
    event.add("dtstart", postmortem.meeting_at)
    event.add("dtend", postmortem.meeting_at + timedelta(hours=1))
    label = _("Postmortem review")
    event.add("summary", f"{label}: {incident.number} {postmortem.title}")
    event.add("description", f"{incident.number} {incident.title}\n{link}")
    event.add("url", link)
    organizer = vCalAddress(f"mailto:{settings.DEFAULT_FROM_EMAIL.split('<')[-1].strip('> ')}")
    organizer.params["cn"] = vText("SPT Portal")
    event["organizer"] = organizer
    for person in attendees:
        attendee = vCalAddress(f"mailto:{person.email}")
        attendee.params["cn"] = vText(person.get_full_name() or person.email)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["rsvp"] = vText("TRUE")
        event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    return calendar.to_ical().decode()


@transaction.atomic
def postmortem_schedule_meeting(*, postmortem: PostMortem, at: datetime, actor) -> int:
    """Set the review meeting and email every participant an iCal invitation; returns the
    number of invitations queued."""
    from spt_portal.notifications import notify_email

    _require_worker(actor)
    postmortem = _locked(postmortem)
    incident = postmortem.incident
    if at is None:
        raise PostmortemError(_("Give the meeting's date and time."))
    if timezone.is_naive(at):
        raise PostmortemError(_("Give the meeting's time with its time zone."))
    if incident.recovered_at and at < incident.recovered_at:
        raise PostmortemError(_("The review meeting comes after the recovery."))
    if at < timezone.now() - timedelta(minutes=5):
        raise PostmortemError(_("The review meeting cannot be in the past."))
    postmortem.meeting_at = at
    postmortem.meeting_sequence = F("meeting_sequence") + 1
    postmortem.save(update_fields=["meeting_at", "meeting_sequence", "updated_at"])
    postmortem.refresh_from_db(fields=["meeting_sequence"])
    attendees = [p for p in postmortem.participants.order_by("id") if p.email]
    ics = invitation_ics(postmortem, attendees)
    sent = 0
    for person in attendees:
        log = notify_email(
            to=person.email,
            template="postmortem_meeting",
            language=person.preferred_language or settings.LANGUAGE_CODE,
            tz=person.effective_timezone,
            context={
                "postmortem": postmortem,
                "incident": incident,
                "link": settings.SITE_URL + postmortem.get_absolute_url(),
            },
            obj=incident,
            dedupe_key=f"pm-meeting:{postmortem.pk}:{postmortem.meeting_sequence}:{person.pk}",
            attachments=[{"filename": "invite.ics", "content": ics, "mimetype": "text/calendar"}],
        )
        sent += log is not None
    timeline.record(
        incident,
        kind=TimelineKind.POSTMORTEM,
        actor=actor,
        text=_("Postmortem review meeting set for %(at)s; %(n)d invitations sent.")
        % {"at": _fmt(at), "n": sent},
        data={"postmortem": postmortem.pk},
    )
    return sent


# --- review and publication ------------------------------------------------------------


def comment_add(*, postmortem: PostMortem, body: str, actor) -> ReviewComment:
    _require_worker(actor)
    body = (body or "").strip()
    if not body:
        raise PostmortemError(_("The comment is empty."))
    if postmortem.status == PostMortemStatus.PUBLISHED:
        raise PostmortemError(_("The postmortem is published; the review is over."))
    return ReviewComment.objects.create(postmortem=postmortem, author=actor, body=body)


def allowed_transitions(postmortem: PostMortem, user) -> list[str]:
    if not access.is_engineer_or_manager(user):
        return []
    return [
        status
        for status in TRANSITIONS[postmortem.status]
        if status != PostMortemStatus.APPROVED or access.is_manager(user)
    ]


@transaction.atomic
def postmortem_transition(
    *, postmortem: PostMortem, status: str, actor, send_customer_summary: bool = False
) -> PostMortem:
    """One step of the review (the one table in models.TRANSITIONS); a manager approves."""
    _require_worker(actor)
    postmortem = _locked(postmortem)
    old = postmortem.status
    if status not in PostMortemStatus.values:
        raise PostmortemError(_("Unknown status %(value)s.") % {"value": status})
    if status == old:
        return postmortem
    if status not in TRANSITIONS[old]:
        raise PostmortemError(
            _("A postmortem cannot go from %(old)s to %(new)s.")
            % {
                "old": _label(PostMortemStatus, old),
                "new": _label(PostMortemStatus, status),
            }
        )
    if status == PostMortemStatus.APPROVED and not (actor and access.is_manager(actor)):
        raise PostmortemError(_("A manager approves postmortems."))
    if status == PostMortemStatus.IN_REVIEW and not postmortem.root_cause.strip():
        raise PostmortemError(_("Write the root cause before asking for a review."))
    now = timezone.now()
    postmortem.status = status
    fields = ["status", "updated_at"]
    if status == PostMortemStatus.IN_REVIEW and postmortem.review_started_at is None:
        postmortem.review_started_at = now
        fields.append("review_started_at")
    if status == PostMortemStatus.APPROVED:
        postmortem.approved_by, postmortem.approved_at = actor, now
        fields += ["approved_by", "approved_at"]
    if status == PostMortemStatus.DRAFT:
        postmortem.approved_by, postmortem.approved_at = None, None
        fields += ["approved_by", "approved_at"]
    if status == PostMortemStatus.PUBLISHED:
        postmortem.published_at = now
        postmortem.article = _publish_article(postmortem, actor)
        fields += ["published_at", "article"]
    postmortem.save(update_fields=fields)
    timeline.record(
        postmortem.incident,
        kind=TimelineKind.POSTMORTEM,
        actor=actor,
        pinned=status == PostMortemStatus.PUBLISHED,
        text=_("Postmortem: %(old)s → %(new)s")
        % {
            "old": _label(PostMortemStatus, old),
            "new": _label(PostMortemStatus, status),
        },
        data={"postmortem": postmortem.pk, "old": old, "new": status},
    )
    if status == PostMortemStatus.IN_REVIEW:
        _notify_reviewers(postmortem)
    if status == PostMortemStatus.PUBLISHED:
        if send_customer_summary:
            _send_customer_summary(postmortem, actor)
        close_incident_if_done(postmortem=postmortem, actor=actor)
    return postmortem


def report_sections(postmortem: PostMortem, *, with_actions: bool = False) -> list:
    """(title, Markdown) in seed 003's order."""
    parts = [
        (_("Basic information"), postmortem.summary),
        (_("Timeline"), postmortem.timeline),
        (_("Root cause"), postmortem.root_cause),
        (_("Impact analysis"), _impact_text(postmortem)),
        (_("What went well"), postmortem.went_well),
        (_("What to improve"), postmortem.to_improve),
        (_("Action items"), _action_table(postmortem)),
        (_("Lessons learned"), postmortem.lessons),
    ]
    if not with_actions:
        parts = [part for part in parts if part[0] != _("Action items")]
    return parts


def article_body(postmortem: PostMortem) -> str:
    """The whole report as Markdown, in seed 003's order (the article and the print view)."""
    incident = postmortem.incident
    parts = report_sections(postmortem, with_actions=True)
    label = _("Postmortem")
    head = f"# {label} {incident.number}: {postmortem.title}\n"
    return head + "\n".join(f"\n## {title}\n\n{text.strip() or '—'}\n" for title, text in parts)


def _impact_text(postmortem: PostMortem) -> str:
    facts = []
    if postmortem.affected_users is not None:
        facts.append(_line(_("Affected users"), postmortem.affected_users))
    if postmortem.business_loss:
        facts.append(_line(_("Business loss"), postmortem.business_loss))
    return "\n".join([*facts, "", postmortem.impact]).strip()


def _action_table(postmortem: PostMortem) -> str:
    items = list(postmortem.action_items.select_related("owner"))
    if not items:
        return ""
    rows = [
        "| "
        + " | ".join([_("Action item"), _("Owner"), _("Due date"), _("Priority"), _("Status")])
        + " |",
        "|---|---|---|---|---|",
    ]
    for item in items:
        title = item.title.replace("|", "\\|")
        owner = item.owner.get_full_name() if item.owner else "—"
        due = item.due_date.isoformat() if item.due_date else "—"
        rows.append(
            f"| {title} | {owner} | {due} | {item.priority} | {item.get_status_display()} |"
        )
    return "\n".join(rows)


def _publish_article(postmortem: PostMortem, actor) -> Article:
    """An internal, published knowledge-base article (searchable by all staff)."""
    incident = postmortem.incident
    language = "en" if (translation.get_language() or "").startswith("en") else "zh-hans"
    fields = {
        "title": " ".join([_("Postmortem"), f"{incident.number}:", postmortem.title])[:300],
        "body": article_body(postmortem),
        "tags": [t for t in ("postmortem", incident.number, incident.service) if t],
        "visibility": Article.Visibility.INTERNAL,
        "is_published": True,
        "language": language,
    }
    if postmortem.article_id:
        Article.objects.filter(pk=postmortem.article_id).update(**fields)
        return postmortem.article
    return Article.objects.create(
        **fields, created_by=actor if actor is not None and actor.is_authenticated else None
    )


def _notify_reviewers(postmortem: PostMortem) -> None:
    from incidents.paging import layer_people
    from spt_portal.notifications import notify_email

    link = settings.SITE_URL + postmortem.get_absolute_url()
    for person in layer_people(3):
        if not person.email or not access.is_manager(person):
            continue
        notify_email(
            to=person.email,
            template="postmortem_review",
            language=person.preferred_language or settings.LANGUAGE_CODE,
            tz=person.effective_timezone,
            context={"postmortem": postmortem, "incident": postmortem.incident, "link": link},
            obj=postmortem.incident,
            dedupe_key=f"pm-review:{postmortem.pk}:{postmortem.review_started_at}:{person.pk}",
        )


def _send_customer_summary(postmortem: PostMortem, actor) -> None:
    """Seed 003's external message, once: the customer summary to the affected customers
    (read on the incident's notice page too)."""
    from incidents.models import Audience, CommunicationKind
    from incidents.paging import PagingError, communication_send

    text = postmortem.customer_summary.strip()
    if not text:
        raise PostmortemError(_("Write the summary for customers before sending it."))
    incident = postmortem.incident
    with translation.override("zh-hans"):
        subject_zh = _("Incident review %(number)s") % {"number": incident.number}
    with translation.override("en"):
        subject_en = _("Incident review %(number)s") % {"number": incident.number}
    try:
        communication_send(
            incident=incident,
            kind=CommunicationKind.RESOLVED,
            audience=Audience.EXTERNAL,
            subject=f"{subject_zh} / {subject_en}",
            body=text,
            actor=actor,
        )
    except PagingError as exc:
        raise PostmortemError(str(exc)) from exc


# --- closing the incident --------------------------------------------------------------


def close_blocker(incident: Incident) -> str | None:
    """Why the incident cannot close yet, or None: its postmortem must be published and
    its P0/P1 action items must each have an owner and a due date."""
    postmortem = PostMortem.objects.filter(incident=incident).first()
    if postmortem is None or postmortem.status != PostMortemStatus.PUBLISHED:
        return _("The incident closes when its postmortem is published.")
    missing = list(
        postmortem.action_items.filter(
            priority__in=URGENT_ACTION_PRIORITIES, status__in=OPEN_ACTION_STATUSES
        )
        .filter(Q(owner__isnull=True) | Q(due_date__isnull=True))
        .values_list("title", flat=True)[:5]
    )
    if missing:
        return _("These P0/P1 action items need an owner and a due date: %(items)s") % {
            "items": "; ".join(missing)
        }
    return None


def close_incident_if_done(*, postmortem: PostMortem, actor) -> bool:
    """Close the incident when nothing blocks it any more (called on publication and on
    every action item change); says on the timeline what still blocks it."""
    incident = Incident.objects.get(pk=postmortem.incident_id)
    if incident.status != IncidentStatus.PENDING_POSTMORTEM:
        return False
    if postmortem.status != PostMortemStatus.PUBLISHED:
        return False
    reason = close_blocker(incident)
    if reason:
        timeline.record(
            incident,
            kind=TimelineKind.POSTMORTEM,
            actor=None,
            text=_("Not closed yet: %(reason)s") % {"reason": reason},
        )
        return False
    incident_services.incident_change_status(
        incident=incident,
        status=IncidentStatus.CLOSED,
        actor=actor,
        note=_("Postmortem published and its urgent action items are owned."),
    )
    return True


def on_incident_status(incident: Incident, old: str, new: str, actor) -> None:
    """Registered with the incidents app: prompt for the postmortem when it is due."""
    if new != IncidentStatus.PENDING_POSTMORTEM:
        return
    if PostMortem.objects.filter(incident=incident).exists():
        return
    from spt_portal.notifications import notify_email

    people = [
        p
        for p in dict.fromkeys([incident.commander, incident.tech_lead, incident.on_call_engineer])
        if p is not None and p.email
    ]
    link = settings.SITE_URL + incident.get_absolute_url()
    for person in people:
        notify_email(
            to=person.email,
            template="postmortem_prompt",
            language=person.preferred_language or settings.LANGUAGE_CODE,
            tz=person.effective_timezone,
            context={
                "incident": incident,
                "link": link,
                "deadline": (incident.recovered_at or timezone.now()) + REVIEW_DEADLINE,
            },
            obj=incident,
            dedupe_key=f"pm-prompt:{incident.pk}:{person.pk}",
        )


# --- action items ----------------------------------------------------------------------


def _check_owner(owner) -> None:
    if owner is not None and not access.is_engineer_or_manager(owner):
        raise PostmortemError(_("An action item's owner is an engineer or a manager."))


@transaction.atomic
def action_item_create(
    *,
    postmortem: PostMortem,
    title: str,
    actor,
    owner=None,
    due_date=None,
    priority: str = ActionPriority.P2,
    ticket=None,
) -> ActionItem:
    _require_worker(actor)
    title = (title or "").strip()
    if not title:
        raise PostmortemError(_("An action item needs a title."))
    if priority not in ActionPriority.values:
        raise PostmortemError(_("Unknown priority %(value)s.") % {"value": priority})
    _check_owner(owner)
    item = ActionItem.objects.create(
        postmortem=postmortem,
        title=title[:300],
        owner=owner,
        due_date=due_date,
        priority=priority,
        ticket=ticket,
    )
    return item


ACTION_FIELDS = ("title", "owner", "due_date", "priority", "status", "ticket")


@transaction.atomic
def action_item_update(*, item: ActionItem, actor, **changes) -> ActionItem:
    """Change an action item; done stamps ``done_at``; a new due date re-arms reminders.
    A change that gives the last urgent item its owner and date closes the incident."""
    _require_worker(actor)
    unknown = set(changes) - set(ACTION_FIELDS)
    if unknown:
        raise PostmortemError(
            _("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))}
        )
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if "title" in changes and not (changes["title"] or "").strip():
        raise PostmortemError(_("An action item needs a title."))
    if "priority" in changes and changes["priority"] not in ActionPriority.values:
        raise PostmortemError(_("Unknown priority %(value)s.") % {"value": changes["priority"]})
    if "status" in changes and changes["status"] not in ActionStatus.values:
        raise PostmortemError(_("Unknown status %(value)s.") % {"value": changes["status"]})
    if "owner" in changes:
        _check_owner(changes["owner"])
    changed = []
    for name, value in changes.items():
        if getattr(item, name) != value:
            setattr(item, name, value)
            changed.append(name)
    if not changed:
        return item
    if "status" in changed:
        item.done_at = timezone.now() if item.status == ActionStatus.DONE else None
        changed.append("done_at")
    if "due_date" in changed:
        item.reminded_before_at, item.reminded_overdue_on = None, None
        changed += ["reminded_before_at", "reminded_overdue_on"]
    item.save(update_fields=changed)
    close_incident_if_done(postmortem=item.postmortem, actor=actor)
    return item


# --- jobs ------------------------------------------------------------------------------


def remind_action_items(now=None) -> dict[str, int]:
    """Remind owners (the postmortem's author when nobody owns it) once a few days
    before the due date and every day after it, until the item is done or cancelled."""
    from spt_portal.notifications import notify_email

    now = now or timezone.now()
    today = timezone.localdate(now)
    soon = today + timedelta(days=settings.ACTION_ITEM_REMIND_DAYS)
    open_items = ActionItem.objects.filter(
        status__in=OPEN_ACTION_STATUSES, due_date__isnull=False
    ).select_related("owner", "postmortem__incident", "postmortem__author")
    counts = {"before": 0, "overdue": 0, "nobody": 0}
    before = open_items.filter(
        due_date__gte=today, due_date__lte=soon, reminded_before_at__isnull=True
    )
    overdue = open_items.filter(due_date__lt=today).filter(
        Q(reminded_overdue_on__isnull=True) | Q(reminded_overdue_on__lt=today)
    )
    for kind, queryset in (("before", before), ("overdue", overdue)):
        for item in queryset.order_by("due_date", "id")[:1000]:
            if kind == "before":
                claimed = ActionItem.objects.filter(
                    pk=item.pk, reminded_before_at__isnull=True
                ).update(reminded_before_at=now)
            else:
                claimed = (
                    ActionItem.objects.filter(pk=item.pk)
                    .filter(Q(reminded_overdue_on__isnull=True) | Q(reminded_overdue_on__lt=today))
                    .update(reminded_overdue_on=today)
                )
            if not claimed:  # another run took it
                continue
            person = item.owner or item.postmortem.author
            if person is None or not person.email:
                counts["nobody"] += 1
                continue
            notify_email(
                to=person.email,
                template="action_item_reminder",
                language=person.preferred_language or settings.LANGUAGE_CODE,
                tz=person.effective_timezone,
                context={
                    "item": item,
                    "overdue": kind == "overdue",
                    "days": (today - item.due_date).days,
                    "incident": item.postmortem.incident,
                    "link": settings.SITE_URL + item.postmortem.get_absolute_url(),
                },
                obj=item.postmortem.incident,
                dedupe_key=f"action:{item.pk}:{kind}:{today.isoformat()}",
            )
            counts[kind] += 1
    logger.info(
        "action item reminders: %d before due, %d overdue, %d without anybody to remind",
        counts["before"],
        counts["overdue"],
        counts["nobody"],
    )
    return counts


def overdue_postmortem_incidents(now=None):
    """Incidents recovered more than 48 h ago whose postmortem is missing or still a
    draft (seed 003: the review comes within 24-48 h)."""
    now = now or timezone.now()
    return (
        Incident.objects.filter(
            status__in=(IncidentStatus.RECOVERED, IncidentStatus.PENDING_POSTMORTEM),
            recovered_at__lte=now - REVIEW_DEADLINE,
        )
        .filter(Q(level__in=POSTMORTEM_LEVELS) | Q(status=IncidentStatus.PENDING_POSTMORTEM))
        .filter(Q(postmortem__isnull=True) | Q(postmortem__status=PostMortemStatus.DRAFT))
    )


def escalate_overdue_postmortems(now=None) -> int:
    """Flag and escalate to the managers, once per postmortem: a missing one is created
    (prefilled, so it shows in the overdue list) and the managers are emailed."""
    now = now or timezone.now()
    escalated = 0
    candidates = overdue_postmortem_incidents(now).filter(
        Q(postmortem__isnull=True) | Q(postmortem__overdue_escalated_at__isnull=True)
    )
    for incident in candidates.order_by("recovered_at")[:200]:
        try:
            escalated += _escalate_overdue(incident, now)
        except Exception:  # one bad row never stops the others; the next run retries it
            logger.exception("overdue postmortem of %s: escalation failed", incident.number)
    logger.info("overdue postmortems: %d escalated", escalated)
    return escalated


@transaction.atomic
def _escalate_overdue(incident: Incident, now) -> int:
    from incidents.paging import layer_people
    from spt_portal.notifications import notify_email

    postmortem, _created = postmortem_create(incident=incident, actor=None)
    claimed = PostMortem.objects.filter(pk=postmortem.pk, overdue_escalated_at__isnull=True).update(
        overdue_escalated_at=now
    )
    if not claimed:  # another run took it
        return 0
    managers = [p for p in layer_people(3) if p.email]
    for person in managers:
        notify_email(
            to=person.email,
            template="postmortem_overdue",
            language=person.preferred_language or settings.LANGUAGE_CODE,
            tz=person.effective_timezone,
            context={
                "postmortem": postmortem,
                "incident": incident,
                "link": settings.SITE_URL + postmortem.get_absolute_url(),
            },
            obj=incident,
            dedupe_key=f"pm-overdue:{postmortem.pk}:{person.pk}",
        )
    timeline.record(
        incident,
        kind=TimelineKind.POSTMORTEM,
        text=_("Postmortem not in review 48 hours after recovery: escalated to %(n)d managers.")
        % {"n": len(managers)},
        data={"postmortem": postmortem.pk},
    )
    return 1


def _keep_first_alert_times(alert_ids: list[int]) -> None:
    """Before the first of an incident's alerts goes, keep when the first one fired on the
    incident (MTTD, incidents.metrics): one UPDATE for the batch's incidents."""
    from django.db.models import OuterRef, Subquery

    from incidents.models import Alert, Incident

    first = Alert.objects.filter(incident=OuterRef("pk")).order_by("starts_at").values("starts_at")
    Incident.objects.filter(
        pk__in=Alert.objects.filter(pk__in=alert_ids).values("incident_id"),
        first_alert_at__isnull=True,
    ).update(first_alert_at=Subquery(first[:1]))


def delete_old_alerts(now=None, batch_size: int = 1000) -> int:
    """Seed 004 "数据清理": delete alerts that are linked to incidents closed more than
    ALERT_RETENTION_DAYS ago (and last heard of before then), in batches. The only other
    automatic deletion is the job outbox's handed-over rows (spt_portal.outbox)."""
    from incidents.models import Alert

    days = settings.ALERT_RETENTION_DAYS
    if days <= 0:
        logger.info("alert retention is off (ALERT_RETENTION_DAYS=0)")
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    old = Alert.objects.filter(
        incident__status=IncidentStatus.CLOSED,
        incident__closed_at__lt=cutoff,
        last_received_at__lt=cutoff,
    )
    total, batches, started = 0, 0, timezone.now()
    while True:
        ids = list(old.order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        _keep_first_alert_times(ids)
        deleted, _detail = Alert.objects.filter(pk__in=ids).delete()
        total += len(ids)
        batches += 1
        logger.info(
            "alert retention: batch %d deleted %d alerts (%d rows)", batches, len(ids), deleted
        )
    logger.info(
        "alert retention: %d alerts of incidents closed before %s deleted in %d batches, %.1fs",
        total,
        cutoff.date().isoformat(),
        batches,
        (timezone.now() - started).total_seconds(),
    )
    return total
