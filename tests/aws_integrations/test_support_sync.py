"""AWS Support case sync (SPT-005) with botocore's Stubber at the boto3 boundary."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from django.core import mail
from django.db import connection
from django.utils import timezone

from aws_integrations import support
from aws_integrations.models import CasePush, SupportCase, SyncRun
from spt_portal.models import CustomerAWSAccount
from tests.factories import AWSAccountFactory
from tickets import services
from tickets.models import Comment, Source, Status, Ticket, Visibility

pytestmark = pytest.mark.django_db(transaction=True)

T = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
AWS = "Amazon Web Services"


def stubbed():
    client = boto3.client(
        "support", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return client, Stubber(client)


def case(case_id, *, status="opened", severity="normal", subject="EC2 reboot loop", days_ago=90):
    return {
        "caseId": case_id,
        "displayId": case_id[-6:],
        "subject": subject,
        "status": status,
        "serviceCode": "amazon-elastic-compute-cloud-linux",
        "categoryCode": "instance-issue",
        "severityCode": severity,
        "submittedBy": "ops@acme.example",
        "timeCreated": (T - timedelta(days=days_ago)).isoformat(),
        "language": "en",
    }


def comm(case_id, minutes, body, by=AWS):
    return {
        "caseId": case_id,
        "body": body,
        "submittedBy": by,
        "timeCreated": (T + timedelta(minutes=minutes)).isoformat(),
    }


def expect_list(stubber, cases, *, extra_pages=None):
    stubber.add_response(
        "describe_cases",
        {"cases": cases},
        {"includeResolvedCases": False, "includeCommunications": True, "language": "en"},
    )
    stubber.add_response(
        "describe_cases",
        {"cases": []},
        {"includeResolvedCases": False, "includeCommunications": True, "language": "zh"},
    )


def expect_comms(stubber, case_id, pages, after=None):
    params = {"caseId": case_id}
    if after is not None:
        params["afterTime"] = after
    for index, page in enumerate(pages):
        response = {"communications": page}
        if index < len(pages) - 1:
            response["nextToken"] = f"page-{index + 1}"
        expected = dict(params)
        if index:
            expected["nextToken"] = f"page-{index}"
        stubber.add_response("describe_communications", response, expected)


def imported_case(account, cid):
    """One case imported by a poll (no communications yet): its ticket exists."""
    client, stubber = stubbed()
    expect_list(stubber, [case(cid, days_ago=1)])
    expect_comms(stubber, cid, [[]])
    with stubber:
        support.poll_account(account, client=client)


@pytest.fixture
def account(acme):
    return AWSAccountFactory(
        customer=acme,
        account_id="123456789012",
        role_arn="arn:aws:iam::123456789012:role/SPTPortalAccess",
        support_plan="business",
    )


def test_case_opened_outside_the_portal_becomes_a_ticket_with_all_communications(
    account, acme_user
):
    client, stubber = stubbed()
    cid = "case-123456789012-muen-2026-abcdef"
    expect_list(stubber, [case(cid)])
    # Six communications over two pages: more than recentCommunications' five.
    first = [
        comm(cid, n, f"message {n}", by="ops@acme.example" if n == 0 else AWS) for n in range(4)
    ]
    second = [comm(cid, n, f"message {n}") for n in range(4, 6)]
    expect_comms(stubber, cid, [first, second])
    with stubber:
        run = support.poll_account(account, client=client)
    stubber.assert_no_pending_responses()
    assert run.outcome == "ok" and run.cases_seen == 1 and run.tickets_created == 1
    assert run.comments_imported == 6
    ticket = Ticket.objects.get()
    assert ticket.source == Source.AWS_SUPPORT and ticket.customer == account.customer
    assert ticket.aws_case_id == cid and ticket.priority == "medium"
    bodies = list(ticket.comments.order_by("created_at", "id").values_list("body", flat=True))
    assert bodies == [f"message {n}" for n in range(6)]
    authors = set(ticket.comments.values_list("author_name", flat=True))
    assert authors == {"AWS Support", "ops@acme.example"}
    assert SupportCase.objects.get().last_communication_at == T + timedelta(minutes=5)


def test_rerun_changes_nothing_and_a_new_reply_on_an_old_case_arrives(account, acme_user):
    client, stubber = stubbed()
    cid = "case-123456789012-muen-2026-old000"
    expect_list(stubber, [case(cid, days_ago=90)])
    expect_comms(stubber, cid, [[comm(cid, 0, "hello")]])
    with stubber:
        support.poll_account(account, client=client)
    mail.outbox.clear()

    client, stubber = stubbed()
    expect_list(stubber, [case(cid, days_ago=90)])
    after = (T + timedelta(minutes=0)).isoformat()
    # AWS returns the boundary communication again (afterTime is inclusive): no duplicate.
    expect_comms(stubber, cid, [[comm(cid, 0, "hello")]], after=after)
    writes = []

    def count_writes(execute, sql, params, many, context):
        if sql.lstrip().split(" ", 1)[0] in ("INSERT", "UPDATE", "DELETE"):
            writes.append(sql)
        return execute(sql, params, many, context)

    with stubber, connection.execute_wrapper(count_writes):
        run = support.poll_account(account, client=client)
    assert run.comments_imported == 0 and Comment.objects.count() == 1
    assert mail.outbox == []
    # Nothing changed at AWS: the poll writes its run record and nothing else.
    assert [w for w in writes if "aws_integrations_syncrun" not in w] == []

    # Three months after the case opened, AWS replies: imported within one poll.
    client, stubber = stubbed()
    expect_list(stubber, [case(cid, days_ago=90)])
    expect_comms(
        stubber, cid, [[comm(cid, 0, "hello"), comm(cid, 60, "Fixed on our side.")]], after=after
    )
    account.customer.users.update(preferred_language="en")
    with stubber:
        run = support.poll_account(account, client=client)
    assert run.comments_imported == 1
    reply = Comment.objects.get(body="Fixed on our side.")
    assert reply.is_public and reply.author_name == "AWS Support"


def with_recent(case_dict, comms, *, next_token=None):
    """A listed case as AWS returns it with includeCommunications: the newest five."""
    recent = {"communications": sorted(comms, key=lambda c: c["timeCreated"], reverse=True)[:5]}
    if next_token:
        recent["nextToken"] = next_token
    return {**case_dict, "recentCommunications": recent}


def test_recent_communications_spare_a_call_per_case(account, acme_user):
    """The listing's five newest communications are enough when they are all there is, or
    reach back to the newest one stored: no DescribeCommunications, and a case with nothing
    new takes no lock and writes nothing. Older gaps still go through DescribeCommunications."""
    cid = "case-123456789012-muen-2026-rec000"
    first = [comm(cid, n, f"message {n}") for n in range(3)]
    client, stubber = stubbed()
    expect_list(stubber, [with_recent(case(cid), first)])  # no describe_communications
    with stubber:
        run = support.poll_account(account, client=client)
    stubber.assert_no_pending_responses()
    assert run.comments_imported == 3
    assert SupportCase.objects.get().last_communication_at == T + timedelta(minutes=2)

    # The same listing again: no call, no lock, no write but the run record.
    client, stubber = stubbed()
    expect_list(stubber, [with_recent(case(cid), first)])
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with stubber, connection.execute_wrapper(record):
        run = support.poll_account(account, client=client)
    stubber.assert_no_pending_responses()
    assert run.comments_imported == 0
    assert not [q for q in statements if "FOR UPDATE" in q]
    writes = [q for q in statements if q.lstrip().split(" ", 1)[0] in ("INSERT", "UPDATE")]
    assert [w for w in writes if "aws_integrations_syncrun" not in w] == []

    # Two new replies, and older history beyond the five: the five reach back to our
    # position, so still no call.
    newer = first + [comm(cid, 10 + n, f"reply {n}") for n in range(4)]
    client, stubber = stubbed()
    expect_list(stubber, [with_recent(case(cid), newer, next_token="older")])
    with stubber:
        run = support.poll_account(account, client=client)
    stubber.assert_no_pending_responses()
    assert run.comments_imported == 4
    assert Comment.objects.filter(ticket__aws_case_id=cid).count() == 7

    # Eight more replies since (a long gap): the five do not reach back, so the rest come
    # from DescribeCommunications after our position.
    burst = [comm(cid, 30 + n, f"burst {n}") for n in range(8)]
    client, stubber = stubbed()
    expect_list(stubber, [with_recent(case(cid), newer + burst, next_token="older")])
    expect_comms(stubber, cid, [burst], after=(T + timedelta(minutes=13)).isoformat())
    with stubber:
        run = support.poll_account(account, client=client)
    stubber.assert_no_pending_responses()
    assert run.comments_imported == 8
    bodies = list(
        Comment.objects.filter(ticket__aws_case_id=cid)
        .order_by("created_at", "id")
        .values_list("body", flat=True)
    )
    assert bodies[-8:] == [f"burst {n}" for n in range(8)]
    assert len(bodies) == len(set(bodies)) == 15


def test_case_resolved_at_aws_resolves_the_ticket(account, acme_user):
    client, stubber = stubbed()
    cid = "case-123456789012-muen-2026-res000"
    expect_list(stubber, [case(cid)])
    expect_comms(stubber, cid, [[]])
    with stubber:
        support.poll_account(account, client=client)
    ticket = Ticket.objects.get()
    ticket.requester = acme_user
    ticket.save()
    mail.outbox.clear()

    # Resolved at AWS: gone from the unresolved list, fetched by id with resolved included.
    client, stubber = stubbed()
    expect_list(stubber, [])
    stubber.add_response(
        "describe_cases",
        {"cases": [case(cid, status="resolved")]},
        {"caseIdList": [cid], "includeResolvedCases": True, "includeCommunications": True},
    )
    expect_comms(stubber, cid, [[]])
    with stubber:
        run = support.poll_account(account, client=client)
    assert run.outcome == "ok"
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.aws_case_status == "resolved"
    assert any("please confirm" in m.subject.lower() or "请确认" in m.subject for m in mail.outbox)


def test_pushed_comment_is_sent_once_and_not_reimported(account, acme_user, engineer):
    cid = "case-123456789012-muen-2026-push00"
    imported_case(account, cid)
    ticket = Ticket.objects.get()

    services.comment_add(
        ticket=ticket, author=engineer, body="Internal", visibility=Visibility.INTERNAL
    )
    push_client, push_stubber = stubbed()
    # The job ran synchronously already but without AWS credentials it failed; send it now.
    public = services.comment_add(ticket=ticket, author=engineer, body="Please check the ENI.")
    item = CasePush.objects.get(comment=public)
    assert not CasePush.objects.filter(comment__visibility="internal").exists()
    push_stubber.add_response(
        "add_communication_to_case",
        {"result": True},
        {"caseId": cid, "communicationBody": "Please check the ENI."},
    )
    with push_stubber:
        assert support.push(item.pk, client=push_client) == "sent"
        assert support.push(item.pk, client=push_client) == "skipped"
    item.refresh_from_db()
    assert item.status == "sent"

    # It comes back in the next poll, redacted by AWS, signed by our role session.
    client, stubber = stubbed()
    expect_list(stubber, [case(cid, days_ago=1)])
    echo = {
        "caseId": cid,
        "body": "Please check the ENI. [redacted]",
        "submittedBy": "SPTPortalAccess/spt-portal (Role)",
        "timeCreated": item.sent_at.isoformat(),
    }
    expect_comms(stubber, cid, [[echo]])
    with stubber:
        run = support.poll_account(account, client=client)
    assert run.comments_imported == 0
    assert ticket.comments.count() == 2  # internal note + pushed reply, no duplicate
    item.refresh_from_db()
    assert item.communication_key


def test_failed_push_is_kept_and_retried(account, engineer):
    imported_case(account, "case-123456789012-muen-2026-fail00")
    ticket = Ticket.objects.get()
    comment = services.comment_add(ticket=ticket, author=engineer, body="x")
    item = CasePush.objects.get(comment=comment)
    client, stubber = stubbed()
    stubber.add_client_error("add_communication_to_case", "ThrottlingException", "Rate exceeded")
    with stubber:
        assert support.push(item.pk, client=client) == "failed"
    item.refresh_from_db()
    assert item.status == "pending" and "ThrottlingException" in item.last_error
    assert item.next_attempt_at is not None


def test_a_push_whose_first_job_was_lost_is_swept_up(account, engineer):
    """Redis lost the push's job (or the worker died running it): never tried, the sweep
    finds it once its comment is ten minutes old."""
    imported_case(account, "case-123456789012-muen-2026-lost00")
    comment = services.comment_add(ticket=Ticket.objects.get(), author=engineer, body="x")
    item = CasePush.objects.get(comment=comment)
    CasePush.objects.filter(pk=item.pk).update(attempts=0, status="pending", sent_at=None)
    assert item.pk not in support.due_pushes()
    later = timezone.now() + support.PUSH_FIRST_JOB_GRACE + timedelta(seconds=1)
    assert item.pk in support.due_pushes(now=later)


def test_missing_support_plan_is_shown_not_retried_forever(account):
    client, stubber = stubbed()
    stubber.add_client_error(
        "describe_cases",
        "SubscriptionRequiredException",
        "AWS Premium Support Subscription is required",
    )
    with stubber:
        run = support.poll_account(account, client=client)
    assert run.outcome == "failed" and "SubscriptionRequiredException" in run.errors
    account.refresh_from_db()
    assert "support plan" in account.support_api_error
    assert account.support_plan == "basic"


def test_one_broken_account_does_not_block_another(acme, globex, account):
    other = AWSAccountFactory(
        customer=globex,
        account_id="444455556666",
        role_arn="arn:aws:iam::444455556666:role/SPTPortalAccess",
    )
    broken, broken_stub = stubbed()
    broken_stub.add_client_error("describe_cases", "AccessDeniedException", "role trust changed")
    healthy, healthy_stub = stubbed()
    cid = "case-444455556666-muen-2026-ok0000"
    expect_list(healthy_stub, [case(cid)])
    expect_comms(healthy_stub, cid, [[]])
    with broken_stub, healthy_stub:
        first = support.poll_account(account, client=broken)
        second = support.poll_account(other, client=healthy)
    assert first.outcome == "failed" and second.outcome == "ok"
    assert Ticket.objects.get().customer == globex


def test_a_second_poller_skips_a_locked_account(account):
    import django_rq

    lock = django_rq.get_connection("aws").lock(f"spt:support-poll:{account.pk}", timeout=60)
    assert lock.acquire(blocking=False)
    try:
        run = support.poll_account(account, client=object())
    finally:
        lock.release()
    assert run.outcome == "skipped"


def test_severity_mapping():
    assert support.severity_for("critical", "enterprise") == "critical"
    assert support.severity_for("critical", "business") == "urgent"
    assert [
        support.PRIORITY_FOR_SEVERITY[s] for s in ("critical", "urgent", "high", "normal", "low")
    ] == ["critical", "critical", "high", "medium", "low"]


def test_create_a_case_from_a_ticket(account, acme_user, engineer):
    ticket = services.ticket_create(
        customer=account.customer, requester=acme_user, title="S3 403", actor=acme_user
    )
    client, stubber = stubbed()
    stubber.add_response(
        "create_case",
        {"caseId": "case-123456789012-muen-2026-new000"},
        {
            "subject": "S3 403",
            "serviceCode": "amazon-s3",
            "categoryCode": "general-guidance",
            "severityCode": "normal",
            "communicationBody": "details",
            "language": "zh",
            "issueType": "technical",
        },
    )
    stubber.add_response(
        "describe_cases",
        {"cases": [case("case-123456789012-muen-2026-new000", days_ago=0)]},
        {"caseIdList": ["case-123456789012-muen-2026-new000"], "includeResolvedCases": True},
    )
    mail.outbox.clear()
    with stubber:
        created = support.case_create(
            ticket=ticket,
            account=account,
            service_code="amazon-s3",
            category_code="general-guidance",
            severity="normal",
            language="zh",
            subject="S3 403",
            body="details",
            actor=engineer,
            client=client,
        )
    ticket.refresh_from_db()
    assert ticket.aws_case_id == created.case_id and ticket.aws_case_status == "opened"
    assert ticket.events.filter(kind="aws").exists()
    assert any(acme_user.email in m.to for m in mail.outbox)  # the customer is told
    assert not CasePush.objects.exists()  # the notice itself is not sent to AWS
    with pytest.raises(support.SupportError):
        support.case_create(
            ticket=ticket,
            account=account,
            service_code="x",
            category_code="y",
            severity="low",
            language="en",
            subject="again",
            body="b",
            actor=engineer,
            client=client,
        )


def test_stale_accounts(account):
    assert support.stale_accounts() == [account]
    SyncRun.objects.create(
        kind="support_poll", account=account, outcome="ok", finished_at=datetime.now(UTC)
    )
    assert support.stale_accounts() == []
    assert CustomerAWSAccount.objects.count() == 1


def test_workspace_open_case_page_and_api(
    login, engineer, auditor, acme_user, account, monkeypatch, client
):
    ticket = services.ticket_create(
        customer=account.customer, requester=acme_user, title="ELB 5xx", actor=acme_user
    )
    page = login(engineer).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "Open an AWS Support case" in page
    form_url = f"/admin/aws_integrations/supportcase/open/{ticket.pk}/"
    assert login(engineer).get(form_url).status_code == 200
    assert login(auditor).get(form_url).status_code == 403

    client_, stubber = stubbed()
    stubber.add_response("create_case", {"caseId": "case-123456789012-muen-2026-api000"})
    stubber.add_response(
        "describe_cases", {"cases": [case("case-123456789012-muen-2026-api000", days_ago=0)]}
    )
    monkeypatch.setattr(support, "support_client", lambda account: client_)
    from spt_portal.tokens import api_token_create

    _row, token = api_token_create(user=engineer)
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "account_id": "123456789012",
        "service_code": "elastic-load-balancing",
        "category_code": "general-guidance",
    }
    import json

    with stubber:
        response = client.post(
            f"/api/v1/tickets/{ticket.number}/aws-case/",
            json.dumps(body),
            content_type="application/json",
            headers=headers,
        )
    assert response.status_code == 201, response.content
    assert response.json()["ticket"] == ticket.number
    wrong = client.post(
        f"/api/v1/tickets/{ticket.number}/aws-case",
        json.dumps({**body, "account_id": "444455556666"}),
        content_type="application/json",
        headers=headers,
    )
    assert wrong.status_code == 400
    _row2, customer_token = api_token_create(user=acme_user)
    denied = client.post(
        f"/api/v1/tickets/{ticket.number}/aws-case",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {customer_token}"},
    )
    assert denied.status_code == 403


def test_sync_evidence_and_metric(login, auditor, account, client):
    page = login(auditor).get("/audit/SPT-005/").content.decode()
    assert "Last successful AWS Support sync of 123456789012" in page and "never" in page
    SyncRun.objects.create(
        kind="support_poll", account=account, outcome="ok", finished_at=datetime.now(UTC)
    )
    page = login(auditor).get("/audit/SPT-005/").content.decode()
    assert "never" not in page.split("Last successful AWS Support sync")[1][:200]
    metrics = client.get("/metrics").content.decode()
    assert 'spt_aws_support_sync_age_seconds{account="123456789012"}' in metrics


def test_poll_command_reports_each_account(account, monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    client_, stubber = stubbed()
    expect_list(stubber, [])
    monkeypatch.setattr(support, "support_client", lambda account: client_)
    from io import StringIO

    out = StringIO()
    with stubber:
        call_command("poll_support_cases", "--account", "123456789012", stdout=out)
    assert "123456789012 (ACME): ok, 0 cases" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("poll_support_cases", "--account", "999999999999")


def test_onboarding_template_and_test_connection(login, engineer, account, settings):
    import json

    from aws_integrations import onboarding

    settings.AWS_PARTNER_ACCOUNT_ID = "999988887777"
    template = onboarding.cloudformation_template(account)
    role = template["Resources"]["PortalRole"]["Properties"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"]["AWS"] == "arn:aws:iam::999988887777:root"
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == account.external_id
    actions = role["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"]
    assert "support:DescribeCommunications" in actions and not any(a.endswith("*") for a in actions)
    rule = template["Resources"]["SupportCaseUpdates"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.support"],
        "detail-type": ["Support Case Update"],
    }

    page = login(engineer).get(f"/admin/spt_portal/customerawsaccount/{account.pk}/change/")
    assert "CloudFormation template" in page.content.decode()
    download = login(engineer).get(
        f"/admin/aws_integrations/supportcase/cloudformation/{account.pk}/"
    )
    assert json.loads(download.content)["Outputs"]

    client, stubber = stubbed()
    stubber.add_response(
        "describe_severity_levels",
        {
            "severityLevels": [
                {"code": c, "name": c} for c in ("low", "normal", "high", "urgent", "critical")
            ]
        },
    )
    with stubber:
        ok, message = onboarding.test_connection(account, client=client)
    account.refresh_from_db()
    assert ok and account.support_plan == "enterprise" and "critical" in message
    client, stubber = stubbed()
    stubber.add_client_error("describe_severity_levels", "SubscriptionRequiredException", "no plan")
    with stubber:
        ok, message = onboarding.test_connection(account, client=client)
    account.refresh_from_db()
    assert not ok and account.support_plan == "basic" and account.support_api_error


def test_a_case_unknown_at_aws_does_not_hide_the_others(account):
    client, stubber = stubbed()
    good, gone = "case-123456789012-muen-2026-good00", "case-123456789012-muen-2026-gone00"
    expect_list(stubber, [case(good), case(gone)])
    expect_comms(stubber, good, [[]])
    expect_comms(stubber, gone, [[]])
    with stubber:
        support.poll_account(account, client=client)
    client, stubber = stubbed()
    expect_list(stubber, [])
    params = {"includeResolvedCases": True, "includeCommunications": True}
    stubber.add_client_error(
        "describe_cases",
        "CaseIdNotFound",
        "no such case",
        expected_params={"caseIdList": [good, gone], **params},
    )
    stubber.add_response(
        "describe_cases",
        {"cases": [case(good, status="resolved")]},
        {"caseIdList": [good], **params},
    )
    stubber.add_client_error(
        "describe_cases",
        "CaseIdNotFound",
        "no such case",
        expected_params={"caseIdList": [gone], **params},
    )
    expect_comms(stubber, good, [[]])
    with stubber:
        run = support.poll_account(account, client=client)
    assert run.outcome == "ok"
    assert SupportCase.objects.get(case_id=good).status == "resolved"
    assert SupportCase.objects.get(case_id=gone).status == "not-found"


def test_ticket_page_says_when_replies_have_not_reached_aws(account, engineer, login):
    imported_case(account, "case-123456789012-muen-2026-wait00")
    ticket = Ticket.objects.get()
    page_url = f"/admin/tickets/ticket/{ticket.pk}/change/"
    first = services.comment_add(ticket=ticket, author=engineer, body="one")
    second = services.comment_add(ticket=ticket, author=engineer, body="two")
    # Their jobs could not reach AWS here: both wait.
    CasePush.objects.update(status="pending", sent_at=None)
    page = login(engineer).get(page_url).content.decode()
    assert "2 replies waiting to reach AWS" in page
    assert f"/admin/aws_integrations/casepush/?q={ticket.number}" in page
    pushes = login(engineer).get(f"/admin/aws_integrations/casepush/?q={ticket.number}")
    assert pushes.status_code == 200 and pushes.context["cl"].result_count == 2
    CasePush.objects.filter(comment=first).update(status="failed")
    assert "1 reply not sent to AWS (failed)" in login(engineer).get(page_url).content.decode()
    CasePush.objects.filter(comment__in=[first, second]).update(status="sent")
    assert "reach AWS" not in login(engineer).get(page_url).content.decode()


def test_a_failed_connection_test_is_kept_on_the_account_until_one_succeeds(account):
    """The account page and the SPT-005 evidence show the last known problem: a test that
    fails for any reason records it (not only "no support plan"), one that passes clears it."""
    from aws_integrations import onboarding

    client, stubber = stubbed()
    stubber.add_client_error(
        "describe_severity_levels", "AccessDeniedException", "not authorized to perform"
    )
    with stubber:
        ok, message = onboarding.test_connection(account, client=client)
    account.refresh_from_db()
    assert not ok and message.startswith("AccessDeniedException")
    assert account.support_api_error == message
    client, stubber = stubbed()
    stubber.add_response(
        "describe_severity_levels", {"severityLevels": [{"code": "low", "name": "low"}]}
    )
    with stubber:
        ok, _message = onboarding.test_connection(account, client=client)
    account.refresh_from_db()
    assert ok and account.support_api_error == "" and account.support_plan == "business"
