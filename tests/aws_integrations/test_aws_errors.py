"""AWS errors (SPT-005, SPT-006): throttling, 5xx, expired credentials, no support plan and
a deleted role, for the Support poll, the Support push, the Health poll and the connection
test, each through the job or admin action that runs it in production.

Every request is answered by ``FakeAWS``, a botocore ``before-send`` hook (the mechanism moto
uses): the real clients, role assumption and credential cache, retry configuration and
error parsing all run; only the HTTP exchange is scripted, with the error codes and HTTP
statuses AWS documents. What test_support_sync.py and test_health.py already cover with the
Stubber (a throttled push stays pending, a missing plan marks the account, one account's
AccessDeniedException does not stop another's poll) is not repeated here.
"""

import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import boto3
import pytest
import time_machine
from botocore import handlers
from botocore.awsrequest import AWSResponse
from botocore.retries import standard
from django.core import mail
from django.utils.html import escape

from aws_integrations import clients, jobs
from aws_integrations.models import CasePush, HealthEvent, HealthEventCustomer, SupportCase, SyncRun
from spt_portal.models import CustomerAWSAccount
from tests.factories import AWSAccountFactory, CustomerUserFactory
from tickets import services
from tickets.models import Comment, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ACME, GLOBEX = "123456789012", "444455556666"
ATTEMPTS = 3  # AWS_MAX_ATTEMPTS in these tests: requests per call, the first included


# --- the fake AWS ----------------------------------------------------------------------

# What AWS says with each code (from its API references and real responses).
MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "TooManyRequestsException": "Too many requests",
    "InternalServerError": "An internal server error occurred",
    "InternalFailure": "The request processing has failed because of an unknown error",
    "ServiceUnavailable": "Service is unavailable, please try again later",
    "ExpiredToken": "The security token included in the request is expired",
    "ExpiredTokenException": "The security token included in the request is expired",
    "SubscriptionRequiredException": "AWS Premium Support Subscription is required",
    "AccessDenied": "User: arn:aws:iam::999988887777:user/spt-portal is not authorized to "
    "perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/SPTPortalAccess",
    "AccessDeniedException": "User is not authorized to perform: health:DescribeEvents",
}


@dataclass
class Sent:
    service: str
    operation: str
    account: str | None  # whose assumed role signed it (None: the partner's own credentials)
    access_key: str
    params: dict


class _Body(io.BytesIO):
    def stream(self, **kwargs):
        yield self.getvalue()


class FakeAWS:
    """Answers each request from a per-(operation, account) script; AssumeRole succeeds by
    default with new temporary credentials; anything unscripted fails the test."""

    def __init__(self):
        self.script: dict[tuple[str, str | None], list] = defaultdict(list)
        self.sent: list[Sent] = []
        self.key_account: dict[str, str] = {}
        self.issued = 0

    def ok(self, operation, body, *, account=None, times=1):
        self.script[operation, account] += [(200, body)] * times

    def error(self, operation, code, status, message="", *, account=None, times=1):
        answer = {"__type": code, "message": message or MESSAGES[code]}
        self.script[operation, account] += [(status, answer)] * times

    def calls(self, operation, account=None):
        return [s for s in self.sent if s.operation == operation and s.account == account]

    def __call__(self, request, event_name, **kwargs):
        _before, service, operation = event_name.split(".")
        body = request.body or b""
        body = body.decode() if isinstance(body, bytes) else body
        params = dict(parse_qsl(body)) if service == "sts" else json.loads(body or "{}")
        key = re.search(r"Credential=([^/]+)/", str(request.headers["Authorization"])).group(1)
        # STS: the role being assumed; others: whose temporary credentials signed it.
        account = params["RoleArn"].split(":")[4] if service == "sts" else self.key_account.get(key)
        self.sent.append(Sent(service, operation, account, key, params))
        for script in (self.script[operation, account], self.script[operation, None]):
            if script:
                status, answer = script.pop(0)
                break
        else:
            if operation != "AssumeRole":
                raise AssertionError(f"unscripted AWS call {service}.{operation} for {account}")
            status, answer = 200, None
        if service == "sts":
            return self._sts(request, status, answer, account)
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fake"}
        return AWSResponse(request.url, status, headers, _Body(json.dumps(answer).encode()))

    def _sts(self, request, status, answer, account):
        if status == 200:
            self.issued += 1
            key = f"ASIA{account}{self.issued:04d}"
            self.key_account[key] = account
            expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            xml = (
                '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<AssumeRoleResult><Credentials>"
                f"<AccessKeyId>{key}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey>"
                f"<SessionToken>token-{key}</SessionToken><Expiration>{expires}</Expiration>"
                "</Credentials><AssumedRoleUser>"
                f"<AssumedRoleId>AROAFAKE:spt-portal</AssumedRoleId><Arn>arn:aws:sts::{account}"
                ":assumed-role/SPTPortalAccess/spt-portal</Arn></AssumedRoleUser>"
                "</AssumeRoleResult><ResponseMetadata><RequestId>fake</RequestId>"
                "</ResponseMetadata></AssumeRoleResponse>"
            )
        else:
            xml = (
                '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<Error><Type>Sender</Type><Code>{answer['__type']}</Code>"
                f"<Message>{answer['message']}</Message></Error>"
                "<RequestId>fake</RequestId></ErrorResponse>"
            )
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(xml.encode()))


@pytest.fixture
def aws(monkeypatch, settings):
    """Production AWS settings (no emulator), every request answered by a FakeAWS."""
    settings.AWS_ENDPOINT_URL = ""
    settings.AWS_MAX_ATTEMPTS = ATTEMPTS
    settings.AWS_HEALTH_ORGANIZATION_VIEW = True
    fake = FakeAWS()
    monkeypatch.setattr(
        handlers, "BUILTIN_HANDLERS", [*handlers.BUILTIN_HANDLERS, ("before-send", fake)]
    )
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session that has the hook
    # botocore's backoff between attempts (up to 20 s): the attempts are what is tested.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    clients.clear_credential_cache()
    yield fake
    clients.clear_credential_cache()


@pytest.fixture
def accounts(acme, globex):
    CustomerUserFactory(customer=acme, email="ops@acme.example")
    CustomerUserFactory(customer=globex, email="ops@globex.example")
    return [
        AWSAccountFactory(
            customer=customer,
            account_id=account_id,
            role_arn=f"arn:aws:iam::{account_id}:role/SPTPortalAccess",
            support_plan="business",
        )
        for customer, account_id in ((acme, ACME), (globex, GLOBEX))
    ]


@dataclass
class Failure:
    operation: str
    code: str
    status: int
    retried: bool  # by botocore; the others are sent once per run, never hammered

    @property
    def times(self):
        return ATTEMPTS if self.retried else 1


SUPPORT_FAILURES = {
    "throttled": Failure("DescribeCases", "ThrottlingException", 400, True),
    "internal-error": Failure("DescribeCases", "InternalServerError", 500, True),
    "unavailable": Failure("DescribeCases", "ServiceUnavailable", 503, True),
    "partner-token-expired": Failure("AssumeRole", "ExpiredToken", 403, False),
    "role-token-expired": Failure("DescribeCases", "ExpiredTokenException", 403, False),
    "no-support-plan": Failure("DescribeCases", "SubscriptionRequiredException", 400, False),
    "role-deleted": Failure("AssumeRole", "AccessDenied", 403, False),
}


def fail(fake, failure, account, *, times=None):
    fake.error(
        failure.operation,
        failure.code,
        failure.status,
        account=account,
        times=times or failure.times,
    )


# --- AWS Support: the poll ---------------------------------------------------------------

CID = "case-123456789012-muen-2026-err000"


def case(case_id=CID):
    return {
        "caseId": case_id,
        "displayId": case_id[-6:],
        "subject": "RDS failover loop",
        "status": "opened",
        "serviceCode": "amazon-rds",
        "categoryCode": "other",
        "severityCode": "high",
        "submittedBy": "ops@acme.example",
        "timeCreated": (T0 - timedelta(days=2)).isoformat(),
        "language": "en",
    }


def comm(minutes, body, case_id=CID):
    return {
        "caseId": case_id,
        "body": body,
        "submittedBy": "Amazon Web Services",
        "timeCreated": (T0 + timedelta(minutes=minutes)).isoformat(),
    }


def listing(fake, account, cases):
    fake.ok("DescribeCases", {"cases": cases}, account=account)  # language en
    fake.ok("DescribeCases", {"cases": []}, account=account)  # language zh


def poll_all(fake, at):
    """The cron job at ``at``: one poll job per enabled account (run inline by the tests'
    synchronous queues). Nothing it does may raise."""
    fake.sent.clear()
    with time_machine.travel(at, tick=False):
        assert jobs.poll_support_cases() == 2
    runs = {
        run.account.account_id: run
        for run in SyncRun.objects.filter(kind="support_poll", started_at=at).select_related(
            "account"
        )
    }
    # A job that raised would have left its run "running" (rq records the exception).
    assert len(runs) == 2 and "running" not in {run.outcome for run in runs.values()}
    return runs


@pytest.mark.parametrize("name", SUPPORT_FAILURES)
def test_support_poll_error_is_shown_and_the_next_good_poll_imports_once(
    aws, accounts, login, engineer, name
):
    failure = SUPPORT_FAILURES[name]
    listing(aws, ACME, [case()])
    aws.ok("DescribeCommunications", {"communications": [comm(0, "Opened.")]}, account=ACME)
    listing(aws, GLOBEX, [])
    runs = poll_all(aws, T0)
    assert {r.outcome for r in runs.values()} == {"ok"}
    ticket = Ticket.objects.get()

    # An hour later (the role's credentials are assumed again) AWS fails for ACME only,
    # while an AWS engineer answers the case.
    fail(aws, failure, ACME)
    listing(aws, GLOBEX, [])
    runs = poll_all(aws, T0 + timedelta(hours=1))
    assert runs[ACME].outcome == "failed" and runs[GLOBEX].outcome == "ok"
    assert failure.code in runs[ACME].errors
    assert len(aws.calls(failure.operation, ACME)) == failure.times
    acme_account = CustomerAWSAccount.objects.get(account_id=ACME)
    reason = acme_account.support_api_error
    if name == "no-support-plan":
        assert "support plan" in reason and acme_account.support_plan == "basic"
    else:
        assert failure.code in reason and "operation" in reason  # code, call and AWS's words
    assert not CustomerAWSAccount.objects.get(account_id=GLOBEX).support_api_error
    # Engineers see why: on the account's page and the SPT-005 evidence, and the failed run.
    client = login(engineer)
    page = client.get(f"/admin/spt_portal/customerawsaccount/{acme_account.pk}/change/")
    assert escape(reason) in page.content.decode()
    assert escape(reason) in client.get("/audit/SPT-005/").content.decode()
    run_page = client.get(f"/admin/aws_integrations/syncrun/{runs[ACME].pk}/change/")
    assert failure.code in run_page.content.decode()

    # The error clears: the reply that arrived meanwhile is imported, once.
    listing(aws, ACME, [case()])
    aws.ok(
        "DescribeCommunications",
        {"communications": [comm(0, "Opened."), comm(65, "The failover is fixed.")]},
        account=ACME,
    )
    listing(aws, GLOBEX, [])
    runs = poll_all(aws, T0 + timedelta(hours=1, minutes=10))
    assert runs[ACME].outcome == "ok" and runs[ACME].comments_imported == 1
    assert list(ticket.comments.order_by("id").values_list("body", flat=True)) == [
        "Opened.",
        "The failover is fixed.",
    ]
    acme_account.refresh_from_db()
    assert acme_account.support_api_error == "" and acme_account.support_plan != "basic"
    # Credentials AWS refused are not reused; credentials of a passing error are.
    reassumed = bool(aws.calls("AssumeRole", ACME))
    assert reassumed == (failure.operation == "AssumeRole" or failure.code.startswith("Expired"))


def test_a_short_throttle_is_absorbed_by_botocore_retries(aws, accounts):
    aws.error("DescribeCases", "ThrottlingException", 400, "Rate exceeded", account=ACME, times=2)
    listing(aws, ACME, [])
    listing(aws, GLOBEX, [])
    runs = poll_all(aws, T0)
    assert runs[ACME].outcome == "ok" and runs[ACME].errors == ""
    assert len(aws.calls("DescribeCases", ACME)) == 2 + 2  # two throttled, then en and zh
    assert CustomerAWSAccount.objects.get(account_id=ACME).support_api_error == ""


def test_a_poll_failing_halfway_loses_nothing_and_duplicates_nothing(aws, accounts):
    first, second = CID, "case-123456789012-muen-2026-err111"
    listing(aws, ACME, [case(first), case(second)])
    aws.ok("DescribeCommunications", {"communications": [comm(0, "A1", first)]}, account=ACME)
    # The second case's communications: page 1 arrives, page 2 keeps failing with 503.
    aws.ok(
        "DescribeCommunications",
        {"communications": [comm(1, "B1", second)], "nextToken": "p2"},
        account=ACME,
    )
    aws.error("DescribeCommunications", "ServiceUnavailable", 503, account=ACME, times=ATTEMPTS)
    listing(aws, GLOBEX, [])
    runs = poll_all(aws, T0)
    assert runs[ACME].outcome == "failed" and "ServiceUnavailable" in runs[ACME].errors
    assert runs[GLOBEX].outcome == "ok"
    # The first case's communications are kept; none of the second case's half-read list.
    assert list(Comment.objects.values_list("body", flat=True)) == ["A1"]
    assert SupportCase.objects.get(case_id=second).last_communication_at is None

    listing(aws, ACME, [case(first), case(second)])
    aws.ok("DescribeCommunications", {"communications": [comm(0, "A1", first)]}, account=ACME)
    aws.ok(
        "DescribeCommunications",
        {"communications": [comm(1, "B1", second)], "nextToken": "p2"},
        account=ACME,
    )
    aws.ok("DescribeCommunications", {"communications": [comm(2, "B2", second)]}, account=ACME)
    listing(aws, GLOBEX, [])
    runs = poll_all(aws, T0 + timedelta(minutes=10))
    assert runs[ACME].outcome == "ok" and runs[ACME].comments_imported == 2
    assert sorted(Comment.objects.values_list("body", flat=True)) == ["A1", "B1", "B2"]
    fetched = aws.calls("DescribeCommunications", ACME)
    assert "afterTime" in fetched[0].params and "afterTime" not in fetched[1].params


# --- AWS Support: pushing a reply ----------------------------------------------------------


@pytest.fixture
def linked_ticket(accounts, acme_user):
    ticket = services.ticket_create(
        customer=accounts[0].customer, requester=acme_user, title="RDS failover", actor=acme_user
    )
    SupportCase.objects.create(
        ticket=ticket, account=accounts[0], case_id=CID, status="opened", time_created=T0
    )
    return ticket


PUSH_FAILURES = {
    "throttled": Failure("AddCommunicationToCase", "ThrottlingException", 400, True),
    "internal-error": Failure("AddCommunicationToCase", "InternalServerError", 500, True),
    "unavailable": Failure("AddCommunicationToCase", "ServiceUnavailable", 503, True),
    "partner-token-expired": Failure("AssumeRole", "ExpiredToken", 403, False),
    "role-token-expired": Failure("AddCommunicationToCase", "ExpiredTokenException", 403, False),
    "no-support-plan": Failure(
        "AddCommunicationToCase", "SubscriptionRequiredException", 400, False
    ),
    "role-deleted": Failure("AssumeRole", "AccessDenied", 403, False),
}


def retry_pushes(fake, at):
    fake.sent.clear()
    with time_machine.travel(at, tick=False):
        return jobs.retry_case_pushes()


@pytest.mark.parametrize("name", PUSH_FAILURES)
def test_a_reply_waiting_for_aws_is_kept_and_sent_once_the_error_clears(
    aws, linked_ticket, engineer, login, name
):
    failure = PUSH_FAILURES[name]
    fail(aws, failure, ACME, times=failure.times * 2)
    with time_machine.travel(T0, tick=False):
        # The push job runs as soon as the reply is committed, and fails.
        reply = services.comment_add(
            ticket=linked_ticket, author=engineer, body="Please retry the failover."
        )
    item = CasePush.objects.get(comment=reply)
    assert item.status == "pending" and item.attempts == 1 and failure.code in item.last_error
    assert len(aws.calls(failure.operation, ACME)) == failure.times
    assert retry_pushes(aws, T0 + timedelta(minutes=1)) == 0  # not before its backoff

    # It has failed for hours (seven attempts so far): the eighth failure does not give up.
    CasePush.objects.filter(pk=item.pk).update(attempts=7)
    assert retry_pushes(aws, T0 + timedelta(hours=3)) == 1
    item.refresh_from_db()
    assert item.status == "pending" and item.attempts == 8 and failure.code in item.last_error
    assert item.next_attempt_at == T0 + timedelta(hours=5)  # backoff capped at two hours
    page = login(engineer).get("/admin/aws_integrations/casepush/").content.decode()
    assert "Pending" in page and failure.code in page

    # The error clears: the next due retry sends it, once.
    aws.script.clear()
    aws.ok("AddCommunicationToCase", {"result": True}, account=ACME)
    assert retry_pushes(aws, T0 + timedelta(hours=4)) == 0  # still backing off
    assert retry_pushes(aws, T0 + timedelta(hours=5)) == 1
    sent = aws.calls("AddCommunicationToCase", ACME)
    assert [s.params for s in sent] == [
        {"caseId": CID, "communicationBody": "Please retry the failover."}
    ]
    item.refresh_from_db()
    assert item.status == "sent" and item.last_error == ""
    assert retry_pushes(aws, T0 + timedelta(hours=8)) == 0
    assert jobs.push_case_comment(item.pk) == "skipped"


def test_a_reply_aws_refuses_for_itself_is_given_up_and_shown(aws, linked_ticket, engineer):
    aws.error(
        "AddCommunicationToCase",
        "ValidationException",
        400,
        "communicationBody failed to satisfy constraint",
        account=ACME,
        times=8,
    )
    with time_machine.travel(T0, tick=False):
        reply = services.comment_add(ticket=linked_ticket, author=engineer, body="x")
    CasePush.objects.filter(comment=reply).update(attempts=7)
    retry_pushes(aws, T0 + timedelta(hours=3))
    item = CasePush.objects.get(comment=reply)
    assert item.status == "failed" and "ValidationException" in item.last_error
    assert retry_pushes(aws, T0 + timedelta(days=1)) == 0


# --- AWS Health: the poll ----------------------------------------------------------------

ARN = "arn:aws:health:us-east-1::event/RDS/AWS_RDS_OPERATIONAL_ISSUE/AWS_RDS_OPERATIONAL_ISSUE_ABC"


def api_event(account_view=False, arn=ARN, updated=T0 + timedelta(minutes=1)):
    event = {
        "arn": arn,
        "service": "RDS",
        "eventTypeCode": "AWS_RDS_OPERATIONAL_ISSUE",
        "eventTypeCategory": "issue",
        "region": "us-east-1",
        "startTime": (T0 - timedelta(minutes=5)).timestamp(),
        "lastUpdatedTime": updated.timestamp(),
        "statusCode": "open",
    }
    if not account_view:
        event["eventScopeCode"] = "ACCOUNT_SPECIFIC"
    return event


def answer_org_event(fake, event, account):
    fake.ok("DescribeEventsForOrganization", {"events": [event]})
    fake.ok("DescribeAffectedAccountsForOrganization", {"affectedAccounts": [account]})
    fake.ok(
        "DescribeEventDetailsForOrganization",
        {
            "successfulSet": [
                {
                    "awsAccountId": account,
                    "event": event,
                    "eventDescription": {"latestDescription": "Increased failover times."},
                }
            ],
            "failedSet": [],
        },
    )
    fake.ok(
        "DescribeAffectedEntitiesForOrganization",
        {"entities": [{"entityValue": "db-prod-1", "awsAccountId": account}]},
    )


def poll_health(fake, at):
    fake.sent.clear()
    with time_machine.travel(at, tick=False):
        outcome = jobs.poll_health_events()
    return outcome, SyncRun.objects.get(kind="health_poll", started_at=at)


def told(email):
    return [m for m in mail.outbox if email in m.to and "AWS" in m.subject]


HEALTH_FAILURES = {
    "throttled": Failure("DescribeEventsForOrganization", "TooManyRequestsException", 429, True),
    "internal-error": Failure("DescribeEventsForOrganization", "InternalFailure", 500, True),
    "unavailable": Failure("DescribeEventsForOrganization", "ServiceUnavailable", 503, True),
    "partner-token-expired": Failure(
        "DescribeEventsForOrganization", "ExpiredTokenException", 403, False
    ),
    "no-support-plan": Failure(
        "DescribeEventsForOrganization", "SubscriptionRequiredException", 400, False
    ),
    "no-access": Failure("DescribeEventsForOrganization", "AccessDeniedException", 403, False),
}


@pytest.mark.parametrize("name", HEALTH_FAILURES)
def test_health_poll_error_is_shown_and_the_next_good_poll_catches_up_once(
    aws, accounts, login, auditor, name
):
    failure = HEALTH_FAILURES[name]
    aws.ok("DescribeEventsForOrganization", {"events": []})
    assert poll_health(aws, T0)[0] == "ok"

    # The event is updated at T0+1 min; the poll at T0+30 min fails.
    fail(aws, failure, None)
    outcome, run = poll_health(aws, T0 + timedelta(minutes=30))
    assert outcome == "failed" and failure.code in run.errors and "operation" in run.errors
    assert len(aws.calls(failure.operation)) == failure.times
    page = login(auditor).get(f"/admin/aws_integrations/syncrun/{run.pk}/change/")
    assert failure.code in page.content.decode()
    evidence = login(auditor).get("/audit/SPT-006/").content.decode()
    assert "Last successful AWS Health poll" in evidence

    # The next good poll reads from before the failed one: the event is processed once.
    answer_org_event(aws, api_event(), ACME)
    outcome, run = poll_health(aws, T0 + timedelta(minutes=45))
    assert outcome == "ok" and run.cases_seen == 1
    since = aws.calls("DescribeEventsForOrganization")[0].params["filter"]["lastUpdatedTime"]
    assert since["from"] <= (T0 + timedelta(minutes=1)).timestamp()
    answer_org_event(aws, api_event(), ACME)
    assert poll_health(aws, T0 + timedelta(minutes=60))[0] == "ok"
    event = HealthEvent.objects.get()
    assert Ticket.objects.filter(pk=event.ticket_id).count() == 1
    assert HealthEventCustomer.objects.get().customer.short_code == "ACME"
    assert len(told("ops@acme.example")) == 1


ACCOUNT_VIEW_FAILURES = {
    "throttled": Failure("DescribeEvents", "TooManyRequestsException", 429, True),
    "unavailable": Failure("DescribeEvents", "ServiceUnavailable", 503, True),
    "role-token-expired": Failure("DescribeEvents", "ExpiredTokenException", 403, False),
    "partner-token-expired": Failure("AssumeRole", "ExpiredToken", 403, False),
    "no-support-plan": Failure("DescribeEvents", "SubscriptionRequiredException", 400, False),
    "role-deleted": Failure("AssumeRole", "AccessDenied", 403, False),
}


def answer_account_event(fake, account, arn):
    event = api_event(account_view=True, arn=arn)
    fake.ok("DescribeEvents", {"events": [event]}, account=account)
    fake.ok(
        "DescribeEventDetails",
        {
            "successfulSet": [
                {"event": event, "eventDescription": {"latestDescription": "Failovers."}}
            ],
            "failedSet": [],
        },
        account=account,
    )
    fake.ok(
        "DescribeAffectedEntities",
        {"entities": [{"entityValue": f"db-{account}", "awsAccountId": account}]},
        account=account,
    )


@pytest.mark.parametrize("name", ACCOUNT_VIEW_FAILURES)
def test_health_account_view_one_failing_account_does_not_stop_the_others(
    aws, accounts, settings, name, login, auditor
):
    settings.AWS_HEALTH_ORGANIZATION_VIEW = False
    failure = ACCOUNT_VIEW_FAILURES[name]
    acme_arn, globex_arn = f"{ARN}-acme", f"{ARN}-globex"
    fail(aws, failure, ACME)
    answer_account_event(aws, GLOBEX, globex_arn)
    outcome, run = poll_health(aws, T0)
    assert outcome == "failed"
    assert run.errors.startswith(f"{ACME}: ") and failure.code in run.errors
    assert GLOBEX not in run.errors
    assert len(aws.calls(failure.operation, ACME)) == failure.times
    assert list(HealthEvent.objects.values_list("arn", flat=True)) == [globex_arn]
    assert len(told("ops@globex.example")) == 1
    # The evidence names the account that is not being read (the run alone cannot).
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        evidence = login(auditor).get("/audit/SPT-006/").content.decode()
    assert "1 of 2 accounts read in the last 45 minutes" in evidence
    assert f"Not read: {ACME} (ACME)" in evidence and f"{GLOBEX} (" not in evidence

    answer_account_event(aws, ACME, acme_arn)
    answer_account_event(aws, GLOBEX, globex_arn)
    outcome, run = poll_health(aws, T0 + timedelta(minutes=15))
    assert outcome == "ok" and run.errors == ""

    # Each account reads from its own last good poll: Globex from the first poll (less the
    # overlap), Acme, which failed then, from further back (no good poll yet: a week).
    def since(account):
        call = aws.calls("DescribeEvents", account)[0]
        return call.params["filter"]["lastUpdatedTimes"][0]["from"]

    overlap = timedelta(minutes=settings.AWS_HEALTH_POLL_OVERLAP_MINUTES)
    assert since(GLOBEX) == (T0 - overlap).timestamp()
    assert since(ACME) <= (T0 - timedelta(days=6)).timestamp()
    assert sorted(HealthEvent.objects.values_list("arn", flat=True)) == [acme_arn, globex_arn]
    assert len(told("ops@acme.example")) == 1 and len(told("ops@globex.example")) == 1
    assert HealthEventCustomer.objects.count() == 2
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        evidence = login(auditor).get("/audit/SPT-006/").content.decode()
    assert "2 of 2 accounts read in the last 45 minutes" in evidence
    assert "Not read:" not in evidence


# --- the connection test (admin action on the AWS account) --------------------------------

LEVELS = {"severityLevels": [{"code": c, "name": c} for c in ("low", "normal", "high", "urgent")]}
CONNECTION_FAILURES = {
    "throttled": Failure("DescribeSeverityLevels", "ThrottlingException", 400, True),
    "internal-error": Failure("DescribeSeverityLevels", "InternalServerError", 500, True),
    "unavailable": Failure("DescribeSeverityLevels", "ServiceUnavailable", 503, True),
    "partner-token-expired": Failure("AssumeRole", "ExpiredToken", 403, False),
    "role-token-expired": Failure("DescribeSeverityLevels", "ExpiredTokenException", 403, False),
    "no-support-plan": Failure(
        "DescribeSeverityLevels", "SubscriptionRequiredException", 400, False
    ),
    "role-deleted": Failure("AssumeRole", "AccessDenied", 403, False),
}


def run_connection_test(client, account):
    response = client.post(
        "/admin/spt_portal/customerawsaccount/",
        {"action": "test_connection_action", "_selected_action": [account.pk], "index": 0},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("name", CONNECTION_FAILURES)
def test_connection_test_shows_the_error_and_passes_once_fixed(
    aws, accounts, login, engineer, name
):
    failure = CONNECTION_FAILURES[name]
    account = accounts[0]
    fail(aws, failure, ACME)
    [message] = run_connection_test(login(engineer), account)
    assert message.startswith(f"{ACME}: ")
    if name == "no-support-plan":
        assert "no Business or Enterprise support plan" in message
        account.refresh_from_db()
        assert account.support_plan == "basic" and account.support_api_error
    else:
        assert failure.code in message
    assert len(aws.calls(failure.operation, ACME)) == failure.times

    aws.sent.clear()
    aws.ok("DescribeSeverityLevels", LEVELS, account=ACME)
    [message] = run_connection_test(login(engineer), account)
    assert message.startswith(f"{ACME}: Connected.")
    account.refresh_from_db()
    assert account.support_plan == "business" and account.support_api_error == ""
    reassumed = bool(aws.calls("AssumeRole", ACME))
    assert reassumed == (failure.operation == "AssumeRole" or failure.code.startswith("Expired"))


def test_a_run_left_running_by_a_killed_process_is_closed_as_failed(caplog):
    """A poller killed mid-run (OOM, deploy) left its SyncRun "running" forever: the sweep
    closes it as failed with the reason after an hour; a run still going is left alone."""
    from aws_integrations.jobs import close_interrupted_runs

    with time_machine.travel(T0, tick=False):
        stuck = SyncRun.objects.create(kind="support_poll")
    with time_machine.travel(T0 + timedelta(minutes=50), tick=False):
        going = SyncRun.objects.create(kind="health_poll")
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert close_interrupted_runs() == 1
        assert close_interrupted_runs() == 0
    stuck.refresh_from_db()
    going.refresh_from_db()
    assert stuck.outcome == "failed" and "interrupted" in stuck.errors and stuck.finished_at
    assert going.outcome == "running"
    assert "1 interrupted runs closed" in caplog.text
