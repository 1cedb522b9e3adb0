"""Engineer pages under /ops/ (alerts, the incident board, an incident), the page
acknowledge link (no sign-in) and the customers' incident notice page.

Reads are open to all staff (auditors too); every POST needs an engineer or a manager and
goes through the services.
"""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from spt_portal import access
from spt_portal.inputs import row_id
from tickets.models import Ticket

from . import alerts, metrics, paging, prometheus, selectors, services, targets
from .forms import (
    CommunicationForm,
    DetailsForm,
    EscalateForm,
    IgnoreForm,
    IncidentCreateForm,
    LevelForm,
    LinkTicketForm,
    NoteForm,
    RoleForm,
)
from .models import (
    NOTIFY_SCOPES,
    TRANSITIONS,
    Alert,
    AlertLevel,
    AlertStatus,
    Audience,
    Communication,
    CommunicationKind,
    ContactRole,
    EmergencyContact,
    Incident,
    IncidentSource,
    IncidentStatus,
    IncidentTimelineEntry,
    Level,
    MetricQuery,
    Page,
)

ALERTS_PER_PAGE = 50


def _worker(request) -> None:
    if not access.is_engineer_or_manager(request.user):
        raise PermissionDenied


def _errors(request, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


# --- alerts ----------------------------------------------------------------------------


@access.staff_required
def alert_list(request):
    names = ("status", "level", "source", "service", "group", "q")
    params = {name: request.GET.get(name, "") for name in names}
    queryset = selectors.alerts_for_list(params)
    page = Paginator(queryset, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    sources = Alert.objects.order_by("source").values_list("source", flat=True).distinct()[:50]
    open_incidents = Incident.objects.filter(
        status__in=[IncidentStatus.PENDING, IncidentStatus.IN_PROGRESS, IncidentStatus.RECOVERING]
    ).order_by("-detected_at")[:100]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "incidents/alert_list.html",
        {
            "page": page,
            "params": params,
            "statuses": [("all", _("All"))] + list(AlertStatus.choices),
            "levels": AlertLevel.choices,
            "sources": list(sources),
            "open_incidents": open_incidents,
            "query": query.urlencode(),
            "can_work": access.is_engineer_or_manager(request.user),
        },
    )


@require_POST
@access.staff_required
def alert_action(request):
    """The list's batch form: acknowledge, ignore, create an incident, link to one."""
    _worker(request)
    action = request.POST.get("action", "")
    ids = [pk for pk in map(row_id, request.POST.getlist("alert")) if pk is not None]
    selected = list(Alert.objects.filter(pk__in=ids).order_by("starts_at"))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("incidents:alert_list")
    if not selected:
        messages.error(request, _("Select at least one alert."))
        return redirect(back)
    if action == "acknowledge":
        for alert in selected:
            alerts.alert_acknowledge(alert=alert, actor=request.user)
        messages.success(request, _("%(n)d alerts acknowledged.") % {"n": len(selected)})
    elif action == "ignore":
        form = IgnoreForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Say why the alerts are ignored."))
            return redirect(back)
        done = 0
        for alert in selected:
            try:
                alerts.alert_ignore(
                    alert=alert, reason=form.cleaned_data["reason"], actor=request.user
                )
                done += 1
            except alerts.AlertError as exc:
                messages.error(request, f"#{alert.pk}: {exc}")
        if done:
            messages.success(request, _("%(n)d alerts ignored.") % {"n": done})
    elif action == "create_incident":
        try:
            incident = services.incident_from_alerts(alerts=selected, actor=request.user)
        except (services.IncidentError, paging.PagingError) as exc:
            messages.error(request, str(exc))
            return redirect(back)
        messages.success(request, _("Incident %(number)s opened.") % {"number": incident.number})
        return redirect(incident.get_absolute_url())
    elif action == "link":
        chosen = row_id(request.POST.get("incident"))
        incident = Incident.objects.filter(pk=chosen).first() if chosen else None
        if incident is None:
            messages.error(request, _("Choose the incident to link to."))
            return redirect(back)
        count = services.incident_link_alerts(
            incident=incident, alerts=selected, actor=request.user
        )
        messages.success(
            request,
            _("%(n)d alerts linked to %(number)s.") % {"n": count, "number": incident.number},
        )
    else:
        messages.error(request, _("Unknown action."))
    return redirect(back)


# --- the board and incident pages --------------------------------------------------------


@access.staff_required
def board(request):
    level = request.GET.get("level", "")
    level = level if level in Level.values else ""
    columns = selectors.board_columns(level=level)
    for _status, _label, cards in columns:
        for card in cards:
            card.moves = [(s, IncidentStatus(s).label) for s in TRANSITIONS[card.status]]
    return render(
        request,
        "incidents/board.html",
        {
            "columns": columns,
            "levels": Level.choices,
            "level": level,
            "now": timezone.now(),
            "can_work": access.is_engineer_or_manager(request.user),
        },
    )


@access.staff_required
def incident_create(request):
    _worker(request)
    form = IncidentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        level = form.chosen_level()
        try:
            incident = services.incident_create(
                title=data["title"],
                description=data["description"],
                level=level,
                service=data["service"],
                category=data["category"],
                source=IncidentSource.MANUAL,
                actor=request.user,
            )
        except services.IncidentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("Incident %(number)s opened.") % {"number": incident.number}
            )
            return redirect(incident.get_absolute_url())
    return render(request, "incidents/incident_form.html", {"form": form, "targets": _targets()})


def _targets():
    return [
        (level, targets.describe(respond), targets.describe(resolve))
        for level, (respond, resolve) in targets.TARGETS.items()
    ]


@access.staff_required
def incident_detail(request, pk: int):
    incident = get_object_or_404(selectors.incidents_with_people(), pk=pk)
    entries = incident.timeline.select_related("author")
    linked_alerts = incident.alerts.order_by("starts_at")
    first_alert = linked_alerts.first()
    metric_rows = list(incident.metrics.all())
    context = {
        "incident": incident,
        "timeline": entries,
        "alerts": linked_alerts,
        "tickets": incident.tickets.select_related("customer"),
        "pages": incident.pages.select_related("acknowledged_by"),
        "communications": incident.communications.select_related("sent_by"),
        "metrics_rows": [m for m in metric_rows if m.metric_type != prometheus.METRIC_TYPE],
        "charts": [
            (m, prometheus.chart(m)) for m in metric_rows if m.metric_type == prometheus.METRIC_TYPE
        ],
        "prometheus_enabled": prometheus.enabled(),
        "active_queries": MetricQuery.objects.filter(is_active=True).count(),
        "durations": metrics.incident_durations(
            incident, first_alert.starts_at if first_alert else None
        ),
        "next_statuses": [(s, IncidentStatus(s).label) for s in TRANSITIONS[incident.status]],
        "can_work": access.is_engineer_or_manager(request.user),
        "role_form": RoleForm(),
        "note_form": NoteForm(),
        "level_form": LevelForm(initial={"level": incident.level}),
        "details_form": DetailsForm(
            initial={f: getattr(incident, f) for f in services.DETAIL_FIELDS}
        ),
        "escalate_form": EscalateForm(initial={"level": min(incident.escalation_level + 1, 3)}),
        "link_form": LinkTicketForm(),
        "comm_kinds": CommunicationKind.choices,
        "audiences": Audience.choices,
        "scope": [ContactRole(r).label for r in NOTIFY_SCOPES[incident.level]],
        "now": timezone.now(),
    }
    return render(request, "incidents/incident_detail.html", context)


def _incident_for_write(request, pk: int) -> Incident:
    _worker(request)
    return get_object_or_404(Incident, pk=pk)


def _back(incident: Incident):
    return redirect(incident.get_absolute_url())


@require_POST
@access.staff_required
def incident_status(request, pk: int):
    incident = _incident_for_write(request, pk)
    status = request.POST.get("status", "")
    try:
        services.incident_change_status(
            incident=incident, status=status, actor=request.user, note=request.POST.get("note", "")
        )
    except services.IncidentError as exc:
        messages.error(request, str(exc))
    else:
        incident.refresh_from_db()
        messages.success(
            request,
            _("%(number)s is now %(status)s.")
            % {"number": incident.number, "status": incident.get_status_display()},
        )
    if request.POST.get("next") == "board":
        return redirect("incidents:board")
    return _back(incident)


@require_POST
@access.staff_required
def incident_acknowledge(request, pk: int):
    incident = _incident_for_write(request, pk)
    services.incident_acknowledge(incident=incident, actor=request.user)
    messages.success(request, _("Acknowledged: paging and escalation stopped."))
    return _back(incident)


@require_POST
@access.staff_required
def incident_level(request, pk: int):
    incident = _incident_for_write(request, pk)
    form = LevelForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _back(incident)
    data = form.cleaned_data
    level = form.chosen_level()
    reason = data["reason"] or ("" if data["level"] else _("Set by the triage questions."))
    try:
        services.incident_change_level(
            incident=incident, level=level, actor=request.user, reason=reason
        )
    except services.IncidentError as exc:
        messages.error(request, str(exc))
    return _back(incident)


@require_POST
@access.staff_required
def incident_role(request, pk: int):
    incident = _incident_for_write(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _back(incident)
    try:
        services.incident_assign_role(
            incident=incident,
            role=form.cleaned_data["role"],
            user=form.cleaned_data["user"],
            actor=request.user,
        )
    except services.IncidentError as exc:
        messages.error(request, str(exc))
    return _back(incident)


@require_POST
@access.staff_required
def incident_note(request, pk: int):
    incident = _incident_for_write(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        services.incident_add_note(
            incident=incident,
            text=form.cleaned_data["text"],
            pinned=form.cleaned_data["pinned"],
            actor=request.user,
        )
    else:
        _errors(request, form)
    return _back(incident)


@require_POST
@access.staff_required
def timeline_pin(request, pk: int, entry_id: int):
    incident = _incident_for_write(request, pk)
    entry = get_object_or_404(IncidentTimelineEntry, pk=entry_id, incident=incident)
    services.timeline_pin(entry=entry, pinned=not entry.pinned, actor=request.user)
    return redirect(f"{incident.get_absolute_url()}#entry-{entry.pk}")


@require_POST
@access.staff_required
def incident_details(request, pk: int):
    incident = _incident_for_write(request, pk)
    form = DetailsForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _back(incident)
    try:
        services.incident_update_details(incident=incident, actor=request.user, **form.cleaned_data)
    except services.IncidentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Saved."))
    return _back(incident)


@require_POST
@access.staff_required
def incident_link_ticket(request, pk: int):
    incident = _incident_for_write(request, pk)
    form = LinkTicketForm(request.POST)
    ticket = (
        Ticket.objects.filter(number__iexact=form.data.get("number", "").strip()).first()
        if form.is_valid()
        else None
    )
    if ticket is None:
        messages.error(request, _("No ticket with that number."))
    else:
        services.incident_link_ticket(incident=incident, ticket=ticket, actor=request.user)
    return _back(incident)


@require_POST
@access.staff_required
def incident_emergency(request, pk: int):
    incident = _incident_for_write(request, pk)
    try:
        page = paging.emergency_response(incident=incident, actor=request.user)
    except paging.PagingError as exc:
        messages.error(request, str(exc))
    else:
        count = len(page.recipients) if page else 0
        messages.success(
            request, _("Emergency response started: %(n)d people paged.") % {"n": count}
        )
    return _back(incident)


@require_POST
@access.staff_required
def incident_escalate(request, pk: int):
    incident = _incident_for_write(request, pk)
    form = EscalateForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _back(incident)
    try:
        paging.incident_escalate(
            incident=incident,
            level=form.cleaned_data["level"],
            reason=form.cleaned_data["reason"],
            notify_users=[u.pk for u in form.cleaned_data["notify_users"]],
            auto_assign=form.cleaned_data["auto_assign"],
            actor=request.user,
        )
    except (paging.PagingError, services.IncidentError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Escalated."))
    return _back(incident)


@access.staff_required
def incident_communicate(request, pk: int):
    """Draft a message from seed 003's templates, edit it, send it."""
    _worker(request)
    incident = get_object_or_404(selectors.incidents_with_people(), pk=pk)
    kind = request.GET.get("kind") or request.POST.get("kind") or CommunicationKind.UPDATE
    audience = request.GET.get("audience") or request.POST.get("audience") or Audience.INTERNAL
    if kind not in CommunicationKind.values or audience not in Audience.values:
        raise Http404
    if request.method == "POST":
        form = CommunicationForm(request.POST)
        if form.is_valid():
            try:
                communication = paging.communication_send(
                    incident=incident, actor=request.user, **form.cleaned_data
                )
            except paging.PagingError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    _("Message sent to %(n)d recipients.") % {"n": communication.recipients_count},
                )
                return _back(incident)
    else:
        subject, body = paging.communication_draft(incident=incident, kind=kind, audience=audience)
        form = CommunicationForm(
            initial={"kind": kind, "audience": audience, "subject": subject, "body": body}
        )
    recipients = (
        incident.affected_customers.annotate(n=Count("users")).order_by("name")
        if audience == Audience.EXTERNAL
        else None
    )
    return render(
        request,
        "incidents/communicate.html",
        {
            "incident": incident,
            "form": form,
            "kind_label": CommunicationKind(kind).label,
            "audience_label": Audience(audience).label,
            "external": audience == Audience.EXTERNAL,
            "customers": recipients,
            "scope": [ContactRole(r).label for r in NOTIFY_SCOPES[incident.level]],
        },
    )


@access.staff_required
def incident_metrics(request):
    return render(
        request,
        "incidents/metrics.html",
        {
            "rows": metrics.summary_by_level_and_month(),
            "alert_handling": metrics.alert_handling_minutes(
                since=timezone.now() - timedelta(days=30)
            ),
            "targets": _targets(),
        },
    )


@access.staff_required
def contacts(request):
    rows = EmergencyContact.objects.filter(is_active=True).select_related("user")
    scopes = [
        (level, [ContactRole(r).label for r in NOTIFY_SCOPES[level]]) for level in Level.values
    ]
    return render(
        request,
        "incidents/contacts.html",
        {"contacts": rows, "scopes": scopes, "roles": ContactRole.choices},
    )


# --- acknowledge link (no sign-in) -------------------------------------------------------


def page_ack(request, token: str):
    """GET shows the page and one button; POST acknowledges. (A GET never changes
    anything: mail scanners and link previews open links by themselves.)"""
    found = paging.read_ack_token(token)
    page = Page.objects.select_related("incident").filter(pk=found[0]).first() if found else None
    if page is None:
        return render(request, "incidents/page_ack.html", {"invalid": True}, status=404)
    done = False
    if request.method == "POST":
        from spt_portal.models import User

        # Who acknowledged: the signed-in engineer, else the staff member the link was
        # sent to; a link sent to an outside address records that address only.
        user = (
            request.user
            if access.is_engineer_or_manager(request.user)
            else User.objects.filter(email__iexact=found[1], is_active=True, is_staff=True).first()
        )
        if user is not None and not access.is_engineer_or_manager(user):
            user = None  # an auditor on the link is recorded by address only
        paging.page_acknowledge(page=page, actor=user, via=found[1])
        done = True
        page.refresh_from_db()
    return render(
        request,
        "incidents/page_ack.html",
        {"page": page, "incident": page.incident, "done": done, "recipient": found[1]},
    )


# --- customers: the incident notice page ---------------------------------------------------


@access.customer_required
def portal_incident(request, number: str):
    """What an affected customer sees: the external messages only. Other customers get a
    404 (the incident's existence is not theirs to learn)."""
    incident = get_object_or_404(
        Incident, number=number, affected_customers=request.user.customer_id
    )
    notices = Communication.objects.filter(incident=incident, audience=Audience.EXTERNAL).order_by(
        "-sent_at"
    )
    if not notices:
        raise Http404
    return render(
        request,
        "incidents/portal_incident.html",
        {"incident": incident, "notices": notices, "recovered": incident.recovered_at is not None},
    )


@require_POST
@access.staff_required
def incident_prometheus(request, pk: int):
    """Collect the incident's Prometheus metrics now; each failed query is shown with
    Prometheus's message (the page never fails because Prometheus does)."""
    incident = _incident_for_write(request, pk)
    outcomes = prometheus.collect(incident, actor=request.user, budget=20)
    for outcome in outcomes:
        if outcome.error:
            name = f"{outcome.query}: " if outcome.query else ""
            messages.error(request, f"{name}{outcome.error}")
    series = sum(o.series for o in outcomes)
    if series or not any(o.error for o in outcomes):
        messages.success(request, _("%(n)d series collected from Prometheus.") % {"n": series})
    return _back(incident)
