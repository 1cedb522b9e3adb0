"""AWS Support case sync (SPT-005): no case update is ever missed.

- Poll: every unresolved case of every enabled account (DescribeCases has no "updated
  since" filter and hides resolved cases, so each poll walks them all, per language),
  plus the linked cases that were open at the last poll (a case resolved at AWS vanishes
  from the first list). Cases opened outside the portal get a ticket too.
- Communications: the listing brings each case's five newest (recentCommunications);
  when they do not reach back to the newest one already stored, DescribeCommunications
  with afterTime fetches the rest. They have no id: a stable key (case id + time + sender
  + body hash) is enforced unique on the comment. The sync position advances in the same
  transaction as the imported comments; a case with nothing new is neither locked nor
  written.
- Pushes: a public comment on a linked ticket becomes a CasePush row (an outbox) sent by a
  job with retries; when it comes back it is matched by sender and time, not imported.
"""

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from redis.exceptions import LockError, RedisError

from spt_portal import outbox
from spt_portal.models import CustomerAWSAccount, SupportPlan
from tickets import services as ticket_services
from tickets.models import Comment, CommentSource, EventKind, Source, Status, Ticket, TicketEvent
from tickets.notifications import AWS_SUPPORT_NAME

from .clients import REFUSED_CREDENTIALS, SESSION_NAME, support_client
from .models import CasePush, SupportCase, SyncRun

logger = logging.getLogger(__name__)

# One table, shown in the SLA policy: ticket priority <-> AWS severity.
SEVERITY_FOR_PRIORITY = {"critical": "urgent", "high": "high", "medium": "normal", "low": "low"}
PRIORITY_FOR_SEVERITY = {
    "critical": "critical",
    "urgent": "critical",
    "high": "high",
    "normal": "medium",
    "low": "low",
}
CASE_LANGUAGES = ("en", "zh")
OWN_ECHO_WINDOW = timedelta(minutes=15)
NO_PLAN = "SubscriptionRequiredException"
NOT_FOUND = "not-found"
NOT_FOUND_CODES = {"CaseIdNotFound"}
# Errors of AWS itself or of the whole account (its role, credentials or support plan), not
# of the reply: they clear without any change to it, so a reply waiting for them is never
# given up (it is retried with the backoff, at most every two hours).
PASSING_ERRORS = {
    NO_PLAN,
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    *REFUSED_CREDENTIALS,
    "NoSuchEntity",
}
PUSH_MAX_ATTEMPTS = 8
# Error codes a local emulator answers for operations it does not implement.
EMULATOR_GAPS = {
    "NotImplemented",
    "404",
    "500",
    "InternalFailure",
    "InvalidAction",
    "UnknownOperationException",
}


class SupportError(Exception):
    pass


def severity_for(priority: str, plan: str) -> str:
    """critical -> urgent, or critical only where the account has Enterprise support."""
    if priority == "critical" and plan == SupportPlan.ENTERPRISE:
        return "critical"
    return SEVERITY_FOR_PRIORITY[priority]


def communication_key(case_id: str, communication: dict) -> str:
    body_hash = hashlib.sha256(communication.get("body", "").encode()).hexdigest()
    time_created = communication.get("timeCreated", "")
    raw = f"{case_id}|{time_created}|{communication.get('submittedBy', '')}|{body_hash}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _when(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    parsed = parse_datetime(str(value or ""))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _is_ours(account: CustomerAWSAccount, submitted_by: str) -> bool:
    role_name = account.role_arn.rsplit("/", 1)[-1] if account.role_arn else ""
    return SESSION_NAME in submitted_by or bool(role_name and role_name in submitted_by)


def _author_name(submitted_by: str) -> str:
    return AWS_SUPPORT_NAME if "Amazon Web Services" in submitted_by else submitted_by[:200]


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "ClientError")
    return type(exc).__name__


def _passes(exc: Exception) -> bool:
    """True for an error that goes away by itself or once the account is fixed: AWS
    throttling or failing (5xx), the connection, the role, the credentials, the plan."""
    if not isinstance(exc, ClientError):
        return True  # no connection, no credentials, no role ARN yet
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return status >= 500 or _error_code(exc) in PASSING_ERRORS


# --- creating a case from a ticket -------------------------------------------------------


def case_create(
    *,
    ticket: Ticket,
    account: CustomerAWSAccount,
    service_code: str,
    category_code: str,
    severity: str,
    language: str,
    subject: str,
    body: str,
    actor,
    client=None,
) -> SupportCase:
    """Open an AWS Support case for ``ticket`` in ``account``; the customer is told."""
    if ticket.customer_id != account.customer_id:
        raise SupportError(_("The AWS account belongs to another customer."))
    if SupportCase.objects.filter(ticket=ticket).exists():
        raise SupportError(_("This ticket already has an AWS Support case."))
    client = client or support_client(account)
    try:
        response = client.create_case(
            subject=subject[:250],
            serviceCode=service_code,
            categoryCode=category_code,
            severityCode=severity,
            communicationBody=body,
            language=language,
            issueType="technical",
        )
        case_id = response["caseId"]
        described = client.describe_cases(caseIdList=[case_id], includeResolvedCases=True)
    except (ClientError, BotoCoreError) as exc:
        raise SupportError(_("AWS refused to open the case: %(error)s") % {"error": exc}) from exc
    details = (described.get("cases") or [{}])[0]
    display_id = str(details.get("displayId") or "")
    with transaction.atomic():
        # The notice first, so it is not pushed to the brand-new case.
        ticket_services.comment_add(
            ticket=ticket,
            author=actor,
            body=_("We opened AWS Support case %(case)s for this ticket and will keep you posted.")
            % {"case": display_id or case_id},
            source=CommentSource.ADMIN,
        )
        case = SupportCase.objects.create(
            ticket=ticket,
            account=account,
            case_id=case_id,
            display_id=display_id,
            status=str(details.get("status") or "opened"),
            severity_code=severity,
            service_code=service_code,
            category_code=category_code,
            language=language,
            time_created=_when(details.get("timeCreated")) or timezone.now(),
            last_communication_at=None,
            last_synced_at=timezone.now(),
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            aws_case_id=case_id,
            aws_case_status=case.status,
            aws_case_subject=subject[:500],
            aws_case_severity=severity,
        )
        TicketEvent.objects.create(
            ticket=ticket,
            actor=actor,
            kind=EventKind.AWS,
            new_value=_("AWS Support case %(case)s opened") % {"case": display_id or case_id},
        )
    return case


# --- polling ---------------------------------------------------------------------------


# An account's poll lock lives this long and is renewed after every case: a poller killed
# mid-poll (OOM killer, deploy, lost host) keeps the account for two minutes at most, so
# the next poll (every AWS_SUPPORT_POLL_MINUTES) is not skipped because of it.
POLL_LOCK_SECONDS = 120


class Counts:
    def __init__(self):
        self.cases = self.tickets = self.comments = 0


def _renew(lock, account: CustomerAWSAccount) -> None:
    """Extend the poll lock by POLL_LOCK_SECONDS from now."""
    try:
        lock.reacquire()
    except (LockError, RedisError) as exc:
        # Expired (one case took longer than the lock) or Redis is away: another poller
        # may sync the account meanwhile, which is safe (cases are row-locked), only wasteful.
        logger.warning("support poll lock for %s not renewed: %s", account.account_id, exc)


def poll_account(account: CustomerAWSAccount, *, client=None) -> SyncRun:
    """Sync every case of one account. Holds a Redis lock so two pollers never sync the
    same account at once; records a SyncRun either way; never raises for AWS errors."""
    from spt_portal.queues import connection

    run = SyncRun.objects.create(kind=SyncRun.Kind.SUPPORT_POLL, account=account)
    lock = connection("aws").lock(
        f"spt:support-poll:{account.pk}", timeout=POLL_LOCK_SECONDS, blocking=False
    )
    if not lock.acquire(blocking=False):
        _close(run, SyncRun.Outcome.SKIPPED, "another poller holds this account")
        return run
    counts = Counts()
    try:
        client = client or support_client(account)
        listed: dict[str, dict] = {}
        for language in CASE_LANGUAGES:
            paginator = client.get_paginator("describe_cases")
            # With each case its five newest communications: a case with nothing new
            # needs no DescribeCommunications call (one per case and poll otherwise).
            for page in paginator.paginate(
                includeResolvedCases=False, includeCommunications=True, language=language
            ):
                for case in page.get("cases", []):
                    listed.setdefault(case["caseId"], case)
        seen = set(listed)
        _renew(lock, account)
        links = _links(listed)
        for case in listed.values():
            sync_case(account, case, client=client, counts=counts, link=links.get(case["caseId"]))
            _renew(lock, account)
        # Linked cases open at the last poll but not listed now: resolved at AWS.
        vanished = list(
            SupportCase.objects.filter(account=account)
            .exclude(status__in=["resolved", NOT_FOUND])
            .exclude(case_id__in=seen)
            .values_list("case_id", flat=True)
        )
        for start in range(0, len(vanished), 100):
            described = _describe_by_id(account, client, vanished[start : start + 100])
            links = _links({case["caseId"]: case for case in described})
            for case in described:
                link = links.get(case["caseId"])
                sync_case(account, case, client=client, counts=counts, link=link)
                _renew(lock, account)
    except (ClientError, BotoCoreError, ValueError) as exc:
        code = _error_code(exc)
        if code == NO_PLAN:
            CustomerAWSAccount.objects.filter(pk=account.pk).update(
                support_api_error=_(
                    "No Business or Enterprise support plan: the Support API is not available."
                ),
                support_plan=SupportPlan.BASIC,
            )
        else:
            CustomerAWSAccount.objects.filter(pk=account.pk).update(
                support_api_error=f"{code}: {exc}"[:300]
            )
        logger.warning("support poll of %s failed: %s", account.account_id, exc)
        _close(run, SyncRun.Outcome.FAILED, f"{code}: {exc}", counts)
        return run
    finally:
        try:
            lock.release()
        except Exception:  # the lock expired; nothing to release
            logger.debug("support poll lock for %s already gone", account.pk)
    if account.support_api_error:
        CustomerAWSAccount.objects.filter(pk=account.pk).update(support_api_error="")
    if account.support_plan == SupportPlan.BASIC:
        # The Support API answers only with a Business or Enterprise plan: "basic" (set when
        # it refused) is out of date. Which plan it is now, the connection test tells.
        CustomerAWSAccount.objects.filter(pk=account.pk, support_plan=SupportPlan.BASIC).update(
            support_plan=SupportPlan.UNKNOWN
        )
    _close(run, SyncRun.Outcome.OK, "", counts)
    logger.info(
        "support poll of %s: %s cases, %s tickets created, %s comments imported",
        account.account_id,
        counts.cases,
        counts.tickets,
        counts.comments,
    )
    return run


def _describe_by_id(account, client, case_ids: list[str]) -> list[dict]:
    """Cases by id, resolved included. One unknown id (CaseIdNotFound) must not hide the
    others: on error, ask one by one and mark the unknown case so it is not asked again."""
    try:
        response = client.describe_cases(
            caseIdList=case_ids, includeResolvedCases=True, includeCommunications=True
        )
        return response.get("cases", [])
    except ClientError as exc:
        if _error_code(exc) not in NOT_FOUND_CODES and not (
            settings.AWS_ENDPOINT_URL and _error_code(exc) in EMULATOR_GAPS
        ):
            raise
    cases = []
    for case_id in case_ids:
        try:
            cases += client.describe_cases(
                caseIdList=[case_id], includeResolvedCases=True, includeCommunications=True
            ).get("cases", [])
        except ClientError as exc:
            code = _error_code(exc)
            if code not in NOT_FOUND_CODES and not (
                settings.AWS_ENDPOINT_URL and code in EMULATOR_GAPS
            ):
                raise
            logger.warning("case %s of %s not found at AWS: %s", case_id, account.account_id, code)
            SupportCase.objects.filter(case_id=case_id).update(status=NOT_FOUND)
    return cases


def _close(run: SyncRun, outcome: str, errors: str = "", counts: Counts | None = None) -> None:
    run.outcome = outcome
    run.errors = errors[:4000]
    run.finished_at = timezone.now()
    if counts is not None:
        run.cases_seen, run.tickets_created, run.comments_imported = (
            counts.cases,
            counts.tickets,
            counts.comments,
        )
    run.save()


def _links(cases: dict[str, dict]) -> dict[str, SupportCase]:
    """The links of these cases, with their tickets, in one read (no lock)."""
    return {
        link.case_id: link
        for link in SupportCase.objects.filter(case_id__in=list(cases)).select_related("ticket")
    }


def sync_case(
    account: CustomerAWSAccount,
    case: dict,
    *,
    client,
    counts: Counts,
    link: SupportCase | None = None,
) -> SupportCase:
    """Link (or create) the ticket of one case, sync its state, import new communications.

    ``link`` is the case's link as read before (None: read it here). A case with no change
    takes no lock and writes nothing (every case is polled every 10 minutes)."""
    counts.cases += 1
    case_id = case["caseId"]
    if link is None:
        link = SupportCase.objects.select_related("ticket").filter(case_id=case_id).first()
    changed = False
    if link is None or not _state_unchanged(link, case):
        with transaction.atomic():
            link = (
                SupportCase.objects.select_for_update(of=("self",))
                .select_related("ticket")
                .filter(case_id=case_id)
                .first()
            )
            changed = link is None
            if link is None:
                link = _ticket_for_outside_case(account, case)
                counts.tickets += 1
            changed = _sync_state(link, case) or changed
    # Fetched before the lock (a network call must not hold a row lock); the import below
    # checks each one again under the lock.
    communications = _new_communications(link, case, client)
    if not changed and not communications:
        return link
    # Communications in their own transaction: the position moves only with the comments.
    with transaction.atomic():
        link = SupportCase.objects.select_for_update().get(pk=link.pk)
        position = link.last_communication_at
        imported = _import_communications(account, link, communications)
        counts.comments += imported
        if changed or imported or link.last_communication_at != position:
            link.last_synced_at = timezone.now()
            link.save(update_fields=["last_synced_at", "last_communication_at"])
    return link


def _ticket_for_outside_case(account: CustomerAWSAccount, case: dict) -> SupportCase:
    severity = str(case.get("severityCode") or "normal")
    ticket = ticket_services.ticket_create(
        customer=account.customer,
        requester=None,
        title=f"[AWS] {case.get('subject') or case['caseId']}"[:500],
        description=_("AWS Support case %(case)s opened in AWS account %(account)s by %(by)s.")
        % {
            "case": case.get("displayId") or case["caseId"],
            "account": account.account_id,
            "by": case.get("submittedBy", "?"),
        },
        priority=PRIORITY_FOR_SEVERITY.get(severity, "medium"),
        source=Source.AWS_SUPPORT,
        actor=None,
    )
    return SupportCase.objects.create(
        ticket=ticket,
        account=account,
        case_id=case["caseId"],
        display_id=str(case.get("displayId") or ""),
        status="",
        severity_code=severity,
        service_code=str(case.get("serviceCode") or ""),
        category_code=str(case.get("categoryCode") or ""),
        language=str(case.get("language") or ""),
        time_created=_when(case.get("timeCreated")),
    )


def _state_unchanged(link: SupportCase, case: dict) -> bool:
    return (
        str(case.get("status") or "") == link.status
        and str(case.get("severityCode") or link.severity_code) == link.severity_code
        and str(case.get("displayId") or link.display_id) == link.display_id
        and bool(link.ticket.aws_case_id)
    )


def _sync_state(link: SupportCase, case: dict) -> bool:
    """Copy the case's state to its link and ticket; False (and no write) when nothing
    changed."""
    if _state_unchanged(link, case):
        return False
    status = str(case.get("status") or "")
    severity = str(case.get("severityCode") or link.severity_code)
    subject = str(case.get("subject") or "")
    display_id = str(case.get("displayId") or link.display_id)
    old_status = link.status
    changed = status != old_status or severity != link.severity_code
    link.status, link.severity_code = status, severity
    link.display_id = display_id
    link.save(update_fields=["status", "severity_code", "display_id"])
    if changed or not link.ticket.aws_case_id:
        Ticket.objects.filter(pk=link.ticket_id).update(
            aws_case_id=link.case_id,
            aws_case_status=status,
            aws_case_severity=severity,
            aws_case_subject=subject[:500],
        )
    if status == old_status:
        return True
    ticket = Ticket.objects.get(pk=link.ticket_id)
    if old_status:
        TicketEvent.objects.create(
            ticket=ticket,
            kind=EventKind.AWS,
            old_value=old_status,
            new_value=status,
            note=_("AWS Support case status"),
        )
    if status == "resolved" and ticket.status in (
        Status.NEW,
        Status.IN_PROGRESS,
        Status.WAITING_CUSTOMER,
    ):
        ticket_services.ticket_change_status(
            ticket=ticket, status=Status.RESOLVED, actor=None, note=_("Resolved at AWS Support.")
        )
    elif status == "reopened" and ticket.status in (Status.RESOLVED, Status.CLOSED):
        try:
            ticket_services.ticket_reopen(
                ticket=ticket, actor=None, reason=_("Reopened at AWS Support.")
            )
        except ticket_services.TicketError as exc:
            logger.warning(
                "case %s reopened at AWS but ticket %s stays: %s", link.case_id, ticket.number, exc
            )
    return True


def _new_communications(link: SupportCase, case: dict, client) -> list[dict]:
    """The case's communications from our position on that are not stored yet, oldest
    first. recentCommunications (the five newest, listed with the case) is enough when it
    is complete or reaches back to our position; otherwise DescribeCommunications with
    afterTime. Only when they may hold something new is the database asked."""
    position = link.last_communication_at
    recent = case.get("recentCommunications")
    communications = None
    if recent is not None:
        listed = list(recent.get("communications") or [])
        times = [_when(c.get("timeCreated")) for c in listed]
        if not recent.get("nextToken") or (
            position and times and all(t is not None for t in times) and min(times) <= position
        ):
            communications = listed
    if communications is None:
        communications = _describe_communications(link, client)
    if position is not None:
        # Older ones were handled when the position moved past them; the boundary ones are
        # kept (AWS's afterTime is inclusive, and a twin may share the instant).
        communications = [
            c for c in communications if (_when(c.get("timeCreated")) or position) >= position
        ]
    if not communications:
        return []
    known = _known_keys(link, communications)
    communications = [c for c in communications if communication_key(link.case_id, c) not in known]
    communications.sort(key=lambda c: _when(c.get("timeCreated")) or timezone.now())
    return communications


def _known_keys(link: SupportCase, communications: list[dict]) -> set[str]:
    """Keys of these communications already stored: imported as comments, or recognised
    as our own pushed replies."""
    keys = {communication_key(link.case_id, c) for c in communications}
    if not keys:
        return set()
    known = set(
        Comment.objects.filter(aws_communication_key__in=keys).values_list(
            "aws_communication_key", flat=True
        )
    )
    if keys - known:
        known |= set(
            CasePush.objects.filter(communication_key__in=keys - known).values_list(
                "communication_key", flat=True
            )
        )
    return known


def _describe_communications(link: SupportCase, client) -> list[dict]:
    kwargs = {"caseId": link.case_id}
    if link.last_communication_at:
        kwargs["afterTime"] = link.last_communication_at.isoformat()
    communications = []
    paginator = client.get_paginator("describe_communications")
    try:
        for page in paginator.paginate(**kwargs):
            communications.extend(page.get("communications", []))
    except ClientError as exc:
        if not (settings.AWS_ENDPOINT_URL and _error_code(exc) in EMULATOR_GAPS):
            raise
        # The local emulator (moto) lacks DescribeCommunications: the demo syncs the rest.
        logger.info(
            "emulator without DescribeCommunications: case %s synced without them", link.case_id
        )
        return []
    return communications


def _import_communications(
    account: CustomerAWSAccount, link: SupportCase, communications: list[dict]
) -> int:
    """Store these communications (oldest first) on the locked link's ticket; each is
    checked again here, since another poller may have stored it meanwhile."""
    imported = 0
    known = _known_keys(link, communications)
    for communication in communications:
        created = _when(communication.get("timeCreated"))
        if created and (link.last_communication_at is None or created > link.last_communication_at):
            link.last_communication_at = created
        key = communication_key(link.case_id, communication)
        if key in known:
            continue
        known.add(key)
        submitted_by = str(communication.get("submittedBy", ""))
        if _is_ours(account, submitted_by) and _match_own(link, key, created):
            continue
        comment = ticket_services.comment_add(
            ticket=link.ticket,
            author=None,
            author_name=_author_name(submitted_by),
            body=communication.get("body") or "",
            source=CommentSource.AWS,
        )
        Comment.objects.filter(pk=comment.pk).update(aws_communication_key=key)
        imported += 1
    return imported


def _match_own(link: SupportCase, key: str, created: datetime | None) -> bool:
    """A communication we sent: the case body we opened it with, or a pushed comment.
    AWS may redact parts of a body, so it is recognised by sender and time, not text."""
    if created is None:
        return False
    if (
        link.time_created
        and abs(created - link.time_created) <= OWN_ECHO_WINDOW
        and not link.pushes.exists()
    ):
        return True
    push = (
        link.pushes.filter(
            status=CasePush.Status.SENT,
            communication_key="",
            sent_at__gte=created - OWN_ECHO_WINDOW,
            sent_at__lte=created + OWN_ECHO_WINDOW,
        )
        .order_by("sent_at")
        .first()
    )
    if push is None:
        return False
    push.communication_key = key
    push.save(update_fields=["communication_key"])
    return True


# --- pushing local replies ---------------------------------------------------------------


def queue_push(comment: Comment) -> CasePush | None:
    """Called for every new comment: public ones on linked tickets are queued for AWS."""
    if comment.visibility != "public" or comment.source in (
        CommentSource.AWS,
        CommentSource.SYSTEM,
    ):
        return None
    case = SupportCase.objects.filter(ticket_id=comment.ticket_id).first()
    if case is None or case.is_resolved:
        return None
    push = CasePush.objects.create(comment=comment, case=case)
    outbox.enqueue("aws_integrations.jobs.push_case_comment", push.pk, queue="aws")
    return push


def push(push_id: int, *, client=None) -> str:
    """Send one queued comment (idempotent; retried with backoff on failure). It is given
    up (status failed) only after PUSH_MAX_ATTEMPTS errors about the reply itself; while
    AWS or the account fails, it stays pending and is sent once the error clears."""
    with transaction.atomic():
        item = (
            CasePush.objects.select_for_update()
            .select_related("case__account", "comment")
            .filter(pk=push_id)
            .first()
        )
        if item is None or item.status == CasePush.Status.SENT:
            return "skipped"
        item.attempts += 1
        try:
            (client or support_client(item.case.account)).add_communication_to_case(
                caseId=item.case.case_id, communicationBody=item.comment.body
            )
        except (ClientError, BotoCoreError, ValueError) as exc:
            item.last_error = f"{_error_code(exc)}: {exc}"[:2000]
            give_up = item.attempts >= PUSH_MAX_ATTEMPTS and not _passes(exc)
            item.status = CasePush.Status.FAILED if give_up else CasePush.Status.PENDING
            item.next_attempt_at = timezone.now() + timedelta(minutes=min(2**item.attempts, 120))
            item.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            logger.warning(
                "push of comment %s to %s failed: %s", item.comment_id, item.case.case_id, exc
            )
            return "failed"
        item.status = CasePush.Status.SENT
        item.sent_at = timezone.now()
        item.last_error = ""
        item.save(update_fields=["attempts", "status", "sent_at", "last_error"])
        TicketEvent.objects.create(
            ticket_id=item.comment.ticket_id,
            kind=EventKind.AWS,
            new_value=_("Reply sent to AWS Support case %(case)s") % {"case": str(item.case)},
            internal=True,
        )
    return "sent"


# A push never tried this long after its comment lost its first job (Redis lost it, or the
# worker died running it): the sweep sends it.
PUSH_FIRST_JOB_GRACE = timedelta(minutes=10)


def due_pushes(now=None) -> list[int]:
    now = now or timezone.now()
    return list(
        CasePush.objects.filter(status=CasePush.Status.PENDING)
        .filter(
            Q(attempts__gt=0, next_attempt_at__lte=now)
            | Q(attempts=0, comment__created_at__lte=now - PUSH_FIRST_JOB_GRACE)
        )
        .values_list("id", flat=True)[:500]
    )


def stale_accounts(now=None) -> list[CustomerAWSAccount]:
    """Enabled accounts without a successful poll in AWS_SUPPORT_STALE_MINUTES."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.AWS_SUPPORT_STALE_MINUTES)
    fresh = SyncRun.objects.filter(
        kind=SyncRun.Kind.SUPPORT_POLL, outcome=SyncRun.Outcome.OK, finished_at__gte=cutoff
    ).values_list("account_id", flat=True)
    return list(
        CustomerAWSAccount.objects.filter(support_sync_enabled=True, customer__is_active=True)
        .exclude(pk__in=fresh)
        .exclude(role_arn="")
    )


def sync_one_case(account: CustomerAWSAccount, case_id: str, *, client=None) -> SyncRun:
    """Real time: an EventBridge Support Case Update names one case; sync it now (the
    10-minute poll stays the guarantee)."""
    run = SyncRun.objects.create(kind=SyncRun.Kind.SUPPORT_CASE, account=account)
    counts = Counts()
    try:
        client = client or support_client(account)
        response = client.describe_cases(caseIdList=[case_id], includeResolvedCases=True)
        for case in response.get("cases", []):
            sync_case(account, case, client=client, counts=counts)
    except (ClientError, BotoCoreError, ValueError) as exc:
        _close(run, SyncRun.Outcome.FAILED, f"{_error_code(exc)}: {exc}", counts)
        raise
    _close(run, SyncRun.Outcome.OK, "", counts)
    return run
