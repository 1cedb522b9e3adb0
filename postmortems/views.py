"""Postmortem pages under /ops/postmortems/: the list, the editor (autosaved), the
printable report and the metrics.

Engineers and managers read and write every postmortem; auditors (read-only staff) read
the published ones; customers never see these pages (they get the summary by email and
on the incident's notice page).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.forms import modelform_factory
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incidents.models import Incident
from spt_portal import access
from spt_portal.markup import render_markdown
from tickets.models import Ticket

from . import metrics, services
from .forms import (
    ActionItemForm,
    ActionItemUpdateForm,
    CommentForm,
    ListFilterForm,
    MeetingForm,
    ParticipantsForm,
    PostmortemForm,
    TransitionForm,
)
from .models import (
    OPEN_ACTION_STATUSES,
    ActionItem,
    PostMortem,
    PostMortemStatus,
)

PER_PAGE = 50


def _errors(request, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


def _visible(user):
    """Working staff see every postmortem; other staff (auditors) the published ones."""
    if access.is_engineer_or_manager(user):
        return PostMortem.objects.all()
    return PostMortem.objects.filter(status=PostMortemStatus.PUBLISHED)


def _get(request, pk: int) -> PostMortem:
    return get_object_or_404(
        _visible(request.user).select_related(
            "incident", "author", "approved_by", "article", "incident__commander"
        ),
        pk=pk,
    )


def _for_write(request, pk: int) -> PostMortem:
    if not access.is_engineer_or_manager(request.user):
        raise PermissionDenied
    return _get(request, pk)


@access.staff_required
def postmortem_list(request):
    form = ListFilterForm(request.GET or None)
    params = form.cleaned_data if form.is_valid() else {}
    today = timezone.localdate()
    overdue_items = ActionItem.objects.filter(
        postmortem=OuterRef("pk"), status__in=OPEN_ACTION_STATUSES, due_date__lt=today
    )
    queryset = (
        _visible(request.user)
        .select_related("incident", "author")
        .annotate(
            items_open=Count(
                "action_items", filter=Q(action_items__status__in=OPEN_ACTION_STATUSES)
            ),
            items_overdue=Count(
                "action_items",
                filter=Q(
                    action_items__status__in=OPEN_ACTION_STATUSES,
                    action_items__due_date__lt=today,
                ),
            ),
            has_overdue_items=Exists(overdue_items),
        )
        .order_by("-incident__recovered_at", "-id")
    )
    late = Q(
        status=PostMortemStatus.DRAFT,
        incident__recovered_at__lte=timezone.now() - services.REVIEW_DEADLINE,
    )
    if params.get("status"):
        queryset = queryset.filter(status=params["status"])
    if params.get("level"):
        queryset = queryset.filter(incident__level=params["level"])
    if params.get("overdue"):
        queryset = queryset.filter(late | Q(has_overdue_items=True))
    page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    deadline = timezone.now() - services.REVIEW_DEADLINE
    for postmortem in page:
        postmortem.is_late = (
            postmortem.status == PostMortemStatus.DRAFT
            and postmortem.incident.recovered_at is not None
            and postmortem.incident.recovered_at <= deadline
        )
    can_work = access.is_engineer_or_manager(request.user)
    missing = []
    if can_work:
        missing = list(
            services.overdue_postmortem_incidents()
            .filter(postmortem__isnull=True)
            .order_by("recovered_at")[:20]
        )
        waiting = Incident.objects.filter(
            status="pending_postmortem", postmortem__isnull=True
        ).exclude(pk__in=[i.pk for i in missing])
        missing += list(waiting.order_by("recovered_at")[:20])
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "postmortems/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "missing": missing,
            "can_work": can_work,
        },
    )


@require_POST
@access.staff_required
def postmortem_create(request, incident_pk: int):
    if not access.is_engineer_or_manager(request.user):
        raise PermissionDenied
    incident = get_object_or_404(Incident, pk=incident_pk)
    try:
        postmortem, created = services.postmortem_create(incident=incident, actor=request.user)
    except services.PostmortemError as exc:
        messages.error(request, str(exc))
        return redirect(incident.get_absolute_url())
    if created:
        messages.success(request, _("Postmortem started from the incident's timeline."))
    return redirect(postmortem.get_absolute_url())


def _editor_context(request, postmortem: PostMortem, form=None) -> dict:
    can_work = access.is_engineer_or_manager(request.user)
    items = list(postmortem.action_items.select_related("owner", "ticket"))
    for item in items:
        item.form = ActionItemUpdateForm(
            initial={
                "owner": item.owner_id,
                "due_date": item.due_date,
                "priority": item.priority,
                "status": item.status,
            },
            prefix=f"item{item.pk}",
        )
    proposed = services.proposed_meeting_at(postmortem.incident)
    meeting_initial = (
        timezone.localtime(postmortem.meeting_at) if postmortem.meeting_at else proposed
    )
    return {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "form": form
        or PostmortemForm(instance=postmortem, initial={"version": postmortem.version}),
        "readonly_sections": services.report_sections(postmortem),
        "editable": can_work and postmortem.is_editable,
        "can_work": can_work,
        "items": items,
        "item_form": ActionItemForm(),
        "comments": postmortem.comments.select_related("author"),
        "comment_form": CommentForm(),
        "meeting_form": MeetingForm(initial={"meeting_at": meeting_initial}),
        "meeting_in_window": services.meeting_in_window(postmortem),
        "participants": postmortem.participants.order_by("full_name", "email"),
        "participants_form": ParticipantsForm(
            initial={"participants": list(postmortem.participants.values_list("pk", flat=True))}
        ),
        "transitions": [
            (status, PostMortemStatus(status).label)
            for status in services.allowed_transitions(postmortem, request.user)
        ],
        "close_blocker": services.close_blocker(postmortem.incident)
        if postmortem.incident.status == "pending_postmortem"
        else None,
        "today": timezone.localdate(),
    }


@access.staff_required
def postmortem_edit(request, pk: int):
    """The editor. GET shows it (read-only when the postmortem is not editable or the user
    only reads); POST saves everything at once (the form without JavaScript)."""
    postmortem = _get(request, pk)
    form = None
    if request.method == "POST":
        postmortem = _for_write(request, pk)
        form = PostmortemForm(request.POST, instance=postmortem)
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS}
            try:
                services.postmortem_update(
                    postmortem=postmortem,
                    actor=request.user,
                    version=form.cleaned_data["version"],
                    **data,
                )
            except services.PostmortemError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("Saved."))
                return redirect(postmortem.get_absolute_url())
        else:
            _errors(request, form)
        postmortem.refresh_from_db()
    return render(request, "postmortems/edit.html", _editor_context(request, postmortem, form))


@require_POST
@access.staff_required
def postmortem_autosave(request, pk: int):
    """htmx autosave: 200 with the new version, 409 when somebody saved in between, 400
    for anything else; always a small HTML status fragment (and the version header)."""
    postmortem = _for_write(request, pk)
    # Only the fields sent are validated and saved (the editor sends them all).
    sent = [name for name in services.EDITABLE_FIELDS if name in request.POST]
    form_class = modelform_factory(PostMortem, form=PostmortemForm, fields=sent)
    form = form_class(request.POST, instance=postmortem)
    status, version, message = 200, postmortem.version, ""
    if not form.is_valid():
        status = 400
        message = "; ".join(
            f"{form.fields[f].label if f in form.fields else f}: {' '.join(e)}"
            for f, e in form.errors.items()
        )
    else:
        data = {name: form.cleaned_data[name] for name in sent}
        try:
            saved = services.postmortem_update(
                postmortem=postmortem,
                actor=request.user,
                version=form.cleaned_data["version"],
                **data,
            )
        except services.PostmortemConflict as exc:
            status, message = 409, str(exc)
        except services.PostmortemError as exc:
            status, message = 400, str(exc)
        else:
            version = saved.version
            message = _("Saved at %(time)s") % {
                "time": timezone.localtime(saved.updated_at).strftime("%H:%M:%S")
            }
    if request.headers.get("HX-Request"):
        # The status line, and the new version swapped into the form out of band.
        response = render(
            request,
            "postmortems/_autosave_status.html",
            {"status": status, "message": message, "version": version},
            status=status,
        )
    else:
        response = JsonResponse({"detail": message, "version": version}, status=status)
    response["X-Postmortem-Version"] = str(version)
    return response


@access.staff_required
def postmortem_print(request, pk: int):
    postmortem = _get(request, pk)
    return render(
        request,
        "postmortems/print.html",
        {
            "postmortem": postmortem,
            "incident": postmortem.incident,
            "report": render_markdown(services.article_body(postmortem)),
            "participants": postmortem.participants.order_by("full_name", "email"),
            "now": timezone.now(),
        },
    )


@require_POST
@access.staff_required
def postmortem_status(request, pk: int):
    postmortem = _for_write(request, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return redirect(postmortem.get_absolute_url())
    try:
        services.postmortem_transition(
            postmortem=postmortem,
            status=form.cleaned_data["status"],
            actor=request.user,
            send_customer_summary=form.cleaned_data["send_customer_summary"],
        )
    except services.PostmortemError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Postmortem: %(status)s.")
            % {"status": PostMortemStatus(form.cleaned_data["status"]).label},
        )
    return redirect(postmortem.get_absolute_url())


@require_POST
@access.staff_required
def postmortem_meeting(request, pk: int):
    postmortem = _for_write(request, pk)
    form = MeetingForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return redirect(postmortem.get_absolute_url())
    try:
        sent = services.postmortem_schedule_meeting(
            postmortem=postmortem, at=form.cleaned_data["meeting_at"], actor=request.user
        )
    except services.PostmortemError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Meeting set; %(n)d invitations sent.") % {"n": sent})
    return redirect(postmortem.get_absolute_url())


@require_POST
@access.staff_required
def postmortem_participants(request, pk: int):
    postmortem = _for_write(request, pk)
    form = ParticipantsForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
    else:
        try:
            services.postmortem_set_participants(
                postmortem=postmortem,
                users=form.cleaned_data["participants"],
                actor=request.user,
            )
        except services.PostmortemError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Participants saved."))
    return redirect(postmortem.get_absolute_url())


@require_POST
@access.staff_required
def postmortem_comment(request, pk: int):
    postmortem = _for_write(request, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
    else:
        try:
            services.comment_add(
                postmortem=postmortem, body=form.cleaned_data["body"], actor=request.user
            )
        except services.PostmortemError as exc:
            messages.error(request, str(exc))
    return redirect(postmortem.get_absolute_url() + "#review")


def _ticket(request, number: str):
    number = (number or "").strip()
    if not number:
        return None, True
    ticket = Ticket.objects.filter(number__iexact=number).first()
    if ticket is None:
        messages.error(request, _("No ticket with that number."))
        return None, False
    return ticket, True


@require_POST
@access.staff_required
def action_item_add(request, pk: int):
    postmortem = _for_write(request, pk)
    form = ActionItemForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return redirect(postmortem.get_absolute_url() + "#actions")
    ticket, ok = _ticket(request, form.cleaned_data["ticket_number"])
    if ok:
        try:
            services.action_item_create(
                postmortem=postmortem,
                title=form.cleaned_data["title"],
                owner=form.cleaned_data["owner"],
                due_date=form.cleaned_data["due_date"],
                priority=form.cleaned_data["priority"],
                ticket=ticket,
                actor=request.user,
            )
        except services.PostmortemError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Action item added."))
    return redirect(postmortem.get_absolute_url() + "#actions")


@require_POST
@access.staff_required
def action_item_change(request, pk: int, item_id: int):
    postmortem = _for_write(request, pk)
    item = get_object_or_404(ActionItem, pk=item_id, postmortem=postmortem)
    form = ActionItemUpdateForm(request.POST, prefix=f"item{item.pk}")
    if not form.is_valid():
        _errors(request, form)
    else:
        try:
            services.action_item_update(item=item, actor=request.user, **form.cleaned_data)
        except services.PostmortemError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Action item saved."))
    return redirect(postmortem.get_absolute_url() + "#actions")


@access.staff_required
def postmortem_metrics(request):
    try:
        days = min(max(int(request.GET.get("days", 90)), 7), 730)
    except ValueError:
        days = 90
    today = timezone.localdate()
    overdue = (
        ActionItem.objects.filter(status__in=OPEN_ACTION_STATUSES, due_date__lt=today)
        .select_related("owner", "postmortem__incident")
        .order_by("due_date", "id")
    )
    if not access.is_engineer_or_manager(request.user):
        overdue = overdue.filter(postmortem__status=PostMortemStatus.PUBLISHED)
    return render(
        request,
        "postmortems/metrics.html",
        {
            "summary": metrics.summary(days=days),
            "days": days,
            "choices": (30, 90, 365),
            "overdue": overdue[:100],
            "today": today,
            "statuses": PostMortemStatus.choices,
        },
    )
