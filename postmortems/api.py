"""/api/v1/postmortems (seed 004's deployment guide checks it): list, create for an
incident, read, update, transitions, action items and review comments. Staff tokens only;
auditors' tokens read the published ones."""

from datetime import date, datetime
from typing import Literal

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from incidents.api import Error, SizePagination
from incidents.models import Incident
from spt_portal import access
from spt_portal.api import RowId, Strict, responses
from spt_portal.models import User
from tickets.models import Ticket

from . import services
from .models import OPEN_ACTION_STATUSES, ActionItem, PostMortem, PostMortemStatus

router = Router(tags=["postmortems"])


def _staff(request) -> None:
    if not access.is_staff_user(request.user):
        raise PermissionDenied("Postmortems are for staff tokens.")


def _writer(request) -> None:
    _staff(request)
    if not access.is_engineer_or_manager(request.user):
        raise PermissionDenied("This token is read-only.")


def _visible(request):
    if access.is_engineer_or_manager(request.user):
        return PostMortem.objects.all()
    return PostMortem.objects.filter(status=PostMortemStatus.PUBLISHED)


class ActionItemOut(Schema):
    id: int
    title: str
    owner: str | None = Field(None, description="the owner's email")
    owner_id: int | None
    due_date: date | None
    priority: str
    status: str
    ticket: str | None = Field(None, description="the linked ticket's number")
    overdue: bool
    done_at: datetime | None

    @staticmethod
    def resolve_owner(obj):
        return obj.owner.email if obj.owner_id else None

    @staticmethod
    def resolve_ticket(obj):
        return obj.ticket.number if obj.ticket_id else None

    @staticmethod
    def resolve_overdue(obj):
        return obj.is_overdue


class CommentOut(Schema):
    id: int
    author: str | None
    body: str
    created_at: datetime

    @staticmethod
    def resolve_author(obj):
        return obj.author.email if obj.author_id else None


class PostmortemSummaryOut(Schema):
    id: int
    incident_id: int
    incident: str
    level: str
    title: str
    status: str
    meeting_at: datetime | None
    action_items_open: int = 0
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    version: int

    @staticmethod
    def resolve_incident(obj):
        return obj.incident.number

    @staticmethod
    def resolve_level(obj):
        return obj.incident.level

    @staticmethod
    def resolve_action_items_open(obj):
        count = getattr(obj, "items_open", None)
        if count is None:
            count = obj.action_items.filter(status__in=OPEN_ACTION_STATUSES).count()
        return count


class PostmortemOut(PostmortemSummaryOut):
    summary: str
    timeline: str
    root_cause: str
    impact: str
    affected_users: int | None
    business_loss: str
    went_well: str
    to_improve: str
    lessons: str
    customer_summary: str
    participants: list[str]
    author: str | None
    approved_by: str | None
    approved_at: datetime | None
    review_started_at: datetime | None
    article_id: int | None
    action_items: list[ActionItemOut]
    comments: list[CommentOut]

    @staticmethod
    def resolve_participants(obj):
        return [p.email for p in obj.participants.order_by("id")]

    @staticmethod
    def resolve_author(obj):
        return obj.author.email if obj.author_id else None

    @staticmethod
    def resolve_approved_by(obj):
        return obj.approved_by.email if obj.approved_by_id else None

    @staticmethod
    def resolve_action_items(obj):
        return list(obj.action_items.select_related("owner", "ticket"))

    @staticmethod
    def resolve_comments(obj):
        return list(obj.comments.select_related("author"))


class PostmortemFilters(Schema):
    status: Literal["draft", "in_review", "approved", "published"] | None = None
    level: Literal["P0", "P1", "P2", "P3"] | None = None
    overdue: bool | None = Field(
        None, description="drafts 48 h after recovery, or with overdue action items"
    )
    incident_id: RowId | None = None


class PostmortemIn(Strict):
    incident_id: int


class PostmortemUpdate(Strict):
    version: int | None = Field(
        None, description="the version you read; a newer stored one answers 409"
    )
    title: str | None = Field(None, min_length=1, max_length=500)
    summary: str | None = Field(None, max_length=100_000)
    timeline: str | None = Field(None, max_length=200_000)
    root_cause: str | None = Field(None, max_length=100_000)
    impact: str | None = Field(None, max_length=100_000)
    affected_users: int | None = Field(None, ge=0, le=2_000_000_000)
    business_loss: str | None = Field(None, max_length=200)
    went_well: str | None = Field(None, max_length=100_000)
    to_improve: str | None = Field(None, max_length=100_000)
    lessons: str | None = Field(None, max_length=100_000)
    customer_summary: str | None = Field(None, max_length=20_000)
    participant_ids: list[RowId] | None = None
    meeting_at: datetime | None = Field(None, description="sends iCal invitations")


class TransitionIn(Strict):
    status: Literal["draft", "in_review", "approved", "published"]
    send_customer_summary: bool = False


class ActionItemIn(Strict):
    title: str = Field(..., min_length=1, max_length=300)
    owner_id: int | None = None
    due_date: date | None = None
    priority: Literal["P0", "P1", "P2", "P3"] = "P2"
    ticket: str | None = Field(None, max_length=30, description="a ticket number")


class ActionItemUpdate(Strict):
    title: str | None = Field(None, min_length=1, max_length=300)
    owner_id: int | None = None
    due_date: date | None = None
    priority: Literal["P0", "P1", "P2", "P3"] | None = None
    status: Literal["open", "in_progress", "done", "cancelled"] | None = None


class CommentIn(Strict):
    body: str = Field(..., min_length=1, max_length=20_000)


def _postmortem(request, postmortem_id: int) -> PostMortem:
    return get_object_or_404(
        _visible(request).select_related("incident", "author", "approved_by"), pk=postmortem_id
    )


def _user(user_id: int | None):
    if user_id is None:
        return None
    return get_object_or_404(User, pk=user_id)


@router.get("", response=responses(list[PostmortemSummaryOut], 403), summary="List postmortems")
@paginate(SizePagination)
def list_postmortems(request, filters: Query[PostmortemFilters]):
    _staff(request)
    today = timezone.localdate()
    queryset = (
        _visible(request)
        .select_related("incident")
        .annotate(
            items_open=Count(
                "action_items", filter=Q(action_items__status__in=OPEN_ACTION_STATUSES)
            )
        )
    )
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.level:
        queryset = queryset.filter(incident__level=filters.level)
    if filters.incident_id:
        queryset = queryset.filter(incident_id=filters.incident_id)
    if filters.overdue:
        late = Q(
            status=PostMortemStatus.DRAFT,
            incident__recovered_at__lte=timezone.now() - services.REVIEW_DEADLINE,
        )
        items = Q(action_items__status__in=OPEN_ACTION_STATUSES, action_items__due_date__lt=today)
        queryset = queryset.filter(late | items).distinct()
    return queryset.order_by("-created_at", "-id")


@router.post(
    "",
    response=responses({200: PostmortemOut, 201: PostmortemOut, 400: Error}, 403, 404, 413),
    summary="Create the postmortem of an incident (the existing one, 200, if it has one)",
)
def create_postmortem(request, payload: PostmortemIn):
    _writer(request)
    incident = get_object_or_404(Incident, pk=payload.incident_id)
    try:
        postmortem, created = services.postmortem_create(incident=incident, actor=request.user)
    except services.PostmortemError as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201 if created else 200, _postmortem(request, postmortem.pk))


@router.get(
    "/{postmortem_id}", response=responses(PostmortemOut, 403, 404), summary="Read a postmortem"
)
def get_postmortem(request, postmortem_id: int):
    _staff(request)
    return _postmortem(request, postmortem_id)


@router.put(
    "/{postmortem_id}",
    response=responses({200: PostmortemOut, 400: Error, 409: Error}, 403, 404, 413),
    summary="Update a postmortem's sections, participants or meeting",
)
def update_postmortem(request, postmortem_id: int, payload: PostmortemUpdate):
    _writer(request)
    postmortem = _postmortem(request, postmortem_id)
    data = payload.model_dump(exclude_unset=True)
    version = data.pop("version", None)
    participant_ids = data.pop("participant_ids", None)
    meeting_at = data.pop("meeting_at", None)
    if "title" in data and data["title"] is None:
        return Status(400, {"detail": "A title is required."})
    try:
        if data or version is not None:
            services.postmortem_update(
                postmortem=postmortem, actor=request.user, version=version, **data
            )
        if participant_ids is not None:
            users = list(User.objects.filter(pk__in=participant_ids))
            if len(users) != len(set(participant_ids)):
                return Status(400, {"detail": "Unknown participant ids."})
            services.postmortem_set_participants(
                postmortem=postmortem, users=users, actor=request.user
            )
        if meeting_at is not None:
            services.postmortem_schedule_meeting(
                postmortem=postmortem, at=meeting_at, actor=request.user
            )
    except services.PostmortemConflict as exc:
        return Status(409, {"detail": str(exc)})
    except services.PostmortemError as exc:
        return Status(400, {"detail": str(exc)})
    return _postmortem(request, postmortem.pk)


@router.post(
    "/{postmortem_id}/transition",
    response=responses({200: PostmortemOut, 400: Error}, 403, 404, 413),
    summary="Move a postmortem: draft → in_review → approved (managers) → published",
)
def transition(request, postmortem_id: int, payload: TransitionIn):
    _writer(request)
    postmortem = _postmortem(request, postmortem_id)
    try:
        services.postmortem_transition(
            postmortem=postmortem,
            status=payload.status,
            actor=request.user,
            send_customer_summary=payload.send_customer_summary,
        )
    except services.PostmortemError as exc:
        return Status(400, {"detail": str(exc)})
    return _postmortem(request, postmortem.pk)


@router.post(
    "/{postmortem_id}/action-items",
    response=responses({201: ActionItemOut, 400: Error}, 403, 404, 413),
    summary="Add an action item",
)
def add_action_item(request, postmortem_id: int, payload: ActionItemIn):
    _writer(request)
    postmortem = _postmortem(request, postmortem_id)
    ticket = None
    if payload.ticket:
        ticket = Ticket.objects.filter(number__iexact=payload.ticket.strip()).first()
        if ticket is None:
            return Status(400, {"detail": "Unknown ticket number."})
    try:
        item = services.action_item_create(
            postmortem=postmortem,
            title=payload.title,
            owner=_user(payload.owner_id),
            due_date=payload.due_date,
            priority=payload.priority,
            ticket=ticket,
            actor=request.user,
        )
    except services.PostmortemError as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, ActionItem.objects.select_related("owner", "ticket").get(pk=item.pk))


@router.put(
    "/{postmortem_id}/action-items/{item_id}",
    response=responses({200: ActionItemOut, 400: Error}, 403, 404, 413),
    summary="Update an action item (owner, due date, priority, status)",
)
def update_action_item(request, postmortem_id: int, item_id: int, payload: ActionItemUpdate):
    _writer(request)
    postmortem = _postmortem(request, postmortem_id)
    item = get_object_or_404(ActionItem, pk=item_id, postmortem=postmortem)
    data = payload.model_dump(exclude_unset=True)
    if "owner_id" in data:
        data["owner"] = _user(data.pop("owner_id"))
    for name in ("title", "priority", "status"):
        if name in data and data[name] is None:
            return Status(400, {"detail": f"{name} cannot be null."})
    try:
        services.action_item_update(item=item, actor=request.user, **data)
    except services.PostmortemError as exc:
        return Status(400, {"detail": str(exc)})
    return ActionItem.objects.select_related("owner", "ticket").get(pk=item.pk)


@router.post(
    "/{postmortem_id}/comments",
    response=responses({201: CommentOut, 400: Error}, 403, 404, 413),
    summary="Add a review comment",
)
def add_comment(request, postmortem_id: int, payload: CommentIn):
    _writer(request)
    postmortem = _postmortem(request, postmortem_id)
    try:
        comment = services.comment_add(postmortem=postmortem, body=payload.body, actor=request.user)
    except services.PostmortemError as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, comment)
