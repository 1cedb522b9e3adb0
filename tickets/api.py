"""/api/v1/tickets: list, create, read, comments (seed 001: POST /api/tickets)."""

from datetime import datetime
from typing import Literal

from django.db.models import Q
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from spt_portal import access
from spt_portal.api import PathText, Strict, require_writer, responses
from spt_portal.inputs import row_id
from spt_portal.models import Customer, Skill

from . import selectors, services
from .models import Comment, CommentSource, Source, Ticket, Visibility

router = Router(tags=["tickets"])

PriorityName = Literal["critical", "high", "medium", "low"]


class TicketIn(Strict):
    title: str = Field(..., min_length=1, max_length=500)
    description: str = Field("", max_length=100_000)
    priority: PriorityName = "medium"
    category: str | None = Field(None, description="a skill code such as ec2")
    customer_id: int | None = Field(None, description="staff tokens only: file for a customer")


class TicketOut(Schema):
    number: str
    title: str
    status: str
    priority: str
    source: str
    customer: str | None = Field(None, description="the customer's short code")
    customer_id: int | None
    assignee: str | None = Field(None, description="the assignee's email")
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    aws_case_id: str | None
    aws_health_event_arn: str | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_customer(obj):
        return obj.customer.short_code if obj.customer_id else None

    @staticmethod
    def resolve_assignee(obj):
        return obj.assignee.email if obj.assignee_id else None


class TicketDetailOut(TicketOut):
    description: str
    requester: str | None = None

    @staticmethod
    def resolve_requester(obj):
        return obj.requester.email if obj.requester_id else None


class CommentIn(Strict):
    body: str = Field(..., min_length=1, max_length=100_000)
    visibility: Literal["public", "internal"] = "public"


class CommentOut(Schema):
    id: int
    author: str
    body: str
    visibility: str
    source: str
    created_at: datetime

    @staticmethod
    def resolve_author(obj):
        return obj.display_author


class Error(Schema):
    detail: str


def _visible_ticket(request, number: str) -> Ticket:
    return get_object_or_404(
        selectors.tickets_visible_to(user=request.user).select_related(
            "customer", "assignee", "requester"
        ),
        number=number,
    )


@router.get("", response=responses(list[TicketOut]), summary="List tickets")
@paginate(PageNumberPagination, page_size=25)
def list_tickets(
    request,
    status: str | None = None,
    priority: str | None = None,
    source: str | None = None,
    updated_since: datetime | None = None,
    customer: str | None = None,
):
    tickets = selectors.tickets_visible_to(user=request.user).select_related("customer", "assignee")
    if status:
        tickets = tickets.filter(status=status)
    if priority:
        tickets = tickets.filter(priority=priority)
    if source:
        tickets = tickets.filter(source=source)
    if updated_since:
        tickets = tickets.filter(updated_at__gte=updated_since)
    if customer and access.is_staff_user(request.user):
        by_code = Q(customer__short_code__iexact=customer)
        if row_id(customer):
            by_code |= Q(customer_id=row_id(customer))
        tickets = tickets.filter(by_code)
    return tickets.order_by("-updated_at", "-id")


@router.post(
    "",
    response=responses({201: TicketDetailOut, 400: Error}, 403, 404, 413),
    summary="Create a ticket",
)
def create_ticket(request, payload: TicketIn):
    require_writer(request)
    user = request.user
    if access.is_customer_user(user):
        if payload.customer_id not in (None, user.customer_id):
            return Status(
                403, {"detail": "A customer token files tickets for its own organisation."}
            )
        customer, requester = user.customer, user
    else:
        customer = (
            get_object_or_404(Customer, pk=payload.customer_id, is_active=True)
            if payload.customer_id
            else None
        )
        requester = None
    category = None
    if payload.category:
        category = Skill.objects.filter(slug=payload.category).first()
        if category is None:
            return Status(400, {"detail": f"Unknown category {payload.category!r}."})
    try:
        ticket = services.ticket_create(
            customer=customer,
            requester=requester,
            title=payload.title,
            description=payload.description,
            priority=payload.priority,
            category=category,
            source=Source.API,
            actor=user,
        )
    except services.TicketError as exc:
        return Status(400, {"detail": str(exc)})
    # The ticket as created (its customer, requester and assignee are loaded): reading it
    # back cost a query and a visibility check its creator passes by construction.
    return Status(201, ticket)


@router.get("/{number}", response=responses(TicketDetailOut, 404), summary="Read a ticket")
def get_ticket(request, number: PathText):
    return _visible_ticket(request, number)


@router.get(
    "/{number}/comments", response=responses(list[CommentOut], 404), summary="List comments"
)
def list_comments(request, number: PathText):
    ticket = _visible_ticket(request, number)
    return list(selectors.comments_visible_to(user=request.user, ticket=ticket))


@router.post(
    "/{number}/comments",
    response=responses({201: CommentOut, 400: Error}, 403, 404, 413),
    summary="Add a comment (customers: public only)",
)
def add_comment(request, number: PathText, payload: CommentIn):
    require_writer(request)
    ticket = _visible_ticket(request, number)
    if payload.visibility == Visibility.INTERNAL and not access.is_staff_user(request.user):
        return Status(403, {"detail": "Only staff can write internal notes."})
    try:
        comment = services.comment_add(
            ticket=ticket,
            author=request.user,
            body=payload.body,
            visibility=payload.visibility,
            source=CommentSource.API,
        )
    except services.TicketError as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, Comment.objects.select_related("author").get(pk=comment.pk))
