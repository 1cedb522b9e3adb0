"""POST /api/v1/tickets/{number}/aws-case: open an AWS Support case (staff tokens)."""

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from spt_portal import access
from spt_portal.api import PathText, Strict, responses
from spt_portal.models import CustomerAWSAccount
from tickets.models import Ticket

from . import support

router = Router(tags=["aws support"])


class CaseIn(Strict):
    account_id: str = Field(..., pattern=r"^\d{12}$", description="the customer's AWS account id")
    service_code: str = Field(..., max_length=100)
    category_code: str = Field(..., max_length=100)
    severity: str | None = Field(None, pattern=r"^(low|normal|high|urgent|critical)$")
    language: str | None = Field(None, pattern=r"^(zh|en)$")
    subject: str | None = Field(None, max_length=250)
    body: str | None = Field(None, max_length=100_000)


class CaseOut(Schema):
    case_id: str
    display_id: str
    status: str
    severity_code: str
    ticket: str

    @staticmethod
    def resolve_ticket(obj):
        return obj.ticket.number


class Error(Schema):
    detail: str


@router.post(
    "/{number}/aws-case",
    response=responses({201: CaseOut, 400: Error}, 403, 404, 413),
    summary="Open an AWS Support case for a ticket (staff)",
)
def open_case(request, number: PathText, payload: CaseIn):
    if not access.is_engineer_or_manager(request.user):
        return Status(403, {"detail": "Only engineers and managers open AWS Support cases."})
    ticket = get_object_or_404(Ticket.objects.select_related("customer"), number=number)
    account = CustomerAWSAccount.objects.filter(
        customer_id=ticket.customer_id, account_id=payload.account_id
    ).first()
    if account is None:
        return Status(400, {"detail": "That AWS account does not belong to the ticket's customer."})
    language = payload.language or ("zh" if ticket.customer.default_language == "zh-hans" else "en")
    try:
        case = support.case_create(
            ticket=ticket,
            account=account,
            service_code=payload.service_code,
            category_code=payload.category_code,
            severity=payload.severity
            or support.severity_for(ticket.priority, account.support_plan),
            language=language,
            subject=payload.subject or ticket.title,
            body=payload.body or ticket.description or ticket.title,
            actor=request.user,
        )
    except (support.SupportError, ValueError) as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, case)
