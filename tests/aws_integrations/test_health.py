"""AWS Health (SPT-006): real EventBridge samples through SQS (moto) and the poll (Stubber)."""

import copy
import io
import json
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from django.core import mail
from django.core.management import call_command
from django.db import OperationalError
from moto import mock_aws

from aws_integrations import event_queue, health, health_poll
from aws_integrations.models import HealthEvent, HealthEventCustomer, SyncRun
from tests.factories import AWSAccountFactory, CustomerUserFactory
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "aws_health"


def sample(name):
    return json.loads((SAMPLES / name).read_text())


@pytest.fixture
def acme_account(acme):
    CustomerUserFactory(customer=acme, email="ops@acme.example", preferred_language="en")
    return AWSAccountFactory(customer=acme, account_id="123456789012")


@pytest.fixture
def queue(settings):
    settings.AWS_ENDPOINT_URL = ""
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
        url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "0"})[
            "QueueUrl"
        ]
        settings.AWS_HEALTH_QUEUE_URL = url
        settings.AWS_HEALTH_DLQ_URL = dlq
        yield sqs, url, dlq


def send(sqs, url, body):
    sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))


@pytest.mark.parametrize(
    "category, priority",
    [
        ("issue", "high"),
        ("accountNotification", "medium"),
        ("accountnotification", "medium"),
        ("scheduledChange", "low"),
        ("investigation", "high"),
        ("somethingNew", "medium"),
    ],
)
def test_category_decides_priority(acme_account, category, priority):
    message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
    message["detail"]["eventTypeCategory"] = category
    message["detail"]["eventArn"] += category
    outcome = health.process_event(health.normalize_eventbridge(message))
    assert outcome.event.ticket.priority == priority


def test_same_event_twice_by_sqs_and_by_the_poll_is_one_ticket(queue, acme_account):
    sqs, url, _dlq = queue
    message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
    send(sqs, url, message)
    send(sqs, url, message)  # at least once delivery
    counts = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert counts["processed"] == 2
    event = HealthEvent.objects.get()
    assert Ticket.objects.filter(aws_health_event_arn=event.arn).count() == 1
    master = event.ticket
    assert master.customer is None and master.source == "aws_health"
    assert (
        master.title == "AWS Health Event: EC2 - AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED"
    )
    assert "i-abcd1111" in master.description
    link = HealthEventCustomer.objects.get()
    assert link.customer == acme_account.customer and link.ticket.customer == acme_account.customer
    assert len([m for m in mail.outbox if "ops@acme.example" in m.to and "AWS" in m.subject]) == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None

    # The poll sees the same event through the API: still one of everything.
    client = boto3.client(
        "health", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stubber = Stubber(client)
    arn = message["detail"]["eventArn"]
    api_event = {
        "arn": arn,
        "service": "EC2",
        "eventTypeCode": message["detail"]["eventTypeCode"],
        "eventTypeCategory": "issue",
        "region": "us-west-2",
        "statusCode": "open",
    }
    stubber.add_response("describe_events_for_organization", {"events": [api_event]})
    stubber.add_response(
        "describe_affected_accounts_for_organization", {"affectedAccounts": ["123456789012"]}
    )
    stubber.add_response(
        "describe_event_details_for_organization",
        {
            "successfulSet": [
                {
                    "awsAccountId": "123456789012",
                    "event": api_event,
                    "eventDescription": {
                        "latestDescription": "A description of the event will be provided here"
                    },
                }
            ],
            "failedSet": [],
        },
    )
    stubber.add_response(
        "describe_affected_entities_for_organization",
        {"entities": [{"entityValue": "i-abcd1111", "awsAccountId": "123456789012"}]},
    )
    with stubber:
        run = health_poll.poll_organization(client=client)
    assert run.outcome == "ok" and run.cases_seen == 1
    assert HealthEvent.objects.count() == 1 and HealthEventCustomer.objects.count() == 1
    assert Ticket.objects.count() == 2


def test_split_event_pages_are_merged(acme_account):
    base = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
    first, second = copy.deepcopy(base), copy.deepcopy(base)
    first["detail"].update(page="1", totalPages="2")
    second["detail"].update(
        page="2", totalPages="2", affectedEntities=[{"entityValue": "i-abcd2222"}]
    )
    health.process_event(health.normalize_eventbridge(first))
    health.process_event(health.normalize_eventbridge(second))
    event = HealthEvent.objects.get()
    assert {e["entityValue"] for e in event.affected_entities} == {"i-abcd1111", "i-abcd2222"}
    assert Ticket.objects.count() == 2


def test_update_then_closure(acme_account):
    message = sample("healthinsight_accountnotification_lowercase_category.json")
    health.process_event(health.normalize_eventbridge(message))
    event = HealthEvent.objects.get()
    assert event.category == "accountNotification" and event.ticket.priority == "medium"
    mail.outbox.clear()
    update = copy.deepcopy(message)
    update["detail"].update(
        statusCode="closed",
        lastUpdatedTime="Tue, 29 Aug 2023 05:00:00 GMT",
        communicationId="second",
        eventDescription=[{"language": "en_US", "latestDescription": "Maintenance complete."}],
    )
    outcome = health.process_event(health.normalize_eventbridge(update))
    assert outcome.changed
    event.refresh_from_db()
    assert event.status == "closed" and event.description == "Maintenance complete."
    assert event.ticket.status == Status.RESOLVED
    customer_ticket = HealthEventCustomer.objects.get().ticket
    assert customer_ticket.comments.filter(body__contains="Maintenance complete.").exists()
    over = [m for m in mail.outbox if "ops@acme.example" in m.to]
    assert len(over) == 1 and "over" in over[0].subject
    # Delivered again (backup region): nothing new.
    mail.outbox.clear()
    health.process_event(health.normalize_eventbridge(update))
    assert mail.outbox == []


def test_two_customers_each_told_once_with_only_their_resources(acme, globex):
    for customer, email in ((acme, "ops@acme.example"), (globex, "ops@globex.example")):
        CustomerUserFactory(customer=customer, email=email, preferred_language="en")
    AWSAccountFactory(customer=acme, account_id="987654321987")
    AWSAccountFactory(customer=globex, account_id="444455556666")
    message = sample("aha_orgview_vpn_accountnotification_republished.json")
    message["detail"]["affectedEntities"].append(
        {
            "entityValue": "vpn-globex000000001",
            "awsAccountId": "444455556666",
            "awsAccountName": "Globex",
        }
    )
    message["detail"]["affectedEntities"].append(
        {"entityValue": "vpn-stranger0000001", "awsAccountId": "111100001111"}
    )
    outcome = health.process_event(health.normalize_eventbridge(message))
    assert outcome.customers_notified == 2
    assert outcome.unknown_accounts == ["111100001111"]  # logged, nobody told
    acme_mail = [m for m in mail.outbox if "ops@acme.example" in m.to]
    globex_mail = [m for m in mail.outbox if "ops@globex.example" in m.to]
    assert len(acme_mail) == 1 and len(globex_mail) == 1
    assert "vpn-0d0e3eeefe6aabb0d" in acme_mail[0].body and "vpn-globex" not in acme_mail[0].body
    assert "vpn-globex000000001" in globex_mail[0].body and "vpn-0d0e3" not in globex_mail[0].body
    globex_ticket = HealthEventCustomer.objects.get(customer=globex).ticket
    assert "vpn-0d0e3" not in globex_ticket.description


def test_public_event_creates_only_the_internal_ticket(acme_account):
    message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
    message["detail"]["eventScopeCode"] = "PUBLIC"
    message["account"] = ""
    message["detail"].pop("affectedEntities")
    health.process_event(health.normalize_eventbridge(message))
    assert Ticket.objects.count() == 1 and not HealthEventCustomer.objects.exists()
    assert not [m for m in mail.outbox if "ops@acme.example" in m.to]


def test_poison_message_goes_to_the_dead_letter_queue(queue, acme_account):
    sqs, url, dlq = queue
    send(sqs, url, "{not json")
    send(sqs, url, {"source": "aws.health", "detail": {"service": "EC2"}})  # no ARN
    counts = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert counts == {"received": 2, "processed": 0, "malformed": 2, "failed": 0}
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert {m["Body"] for m in dead} >= {"{not json"}
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    assert SyncRun.objects.get(kind="health_queue").errors


def test_handled_messages_are_deleted_together_and_a_failed_delete_only_repeats(
    queue, acme_account, monkeypatch, caplog
):
    """One DeleteMessageBatch per received batch. When SQS refuses to delete, the message
    comes back and is processed again: nothing is created twice."""
    sqs, url, _dlq = queue
    event = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
    send(sqs, url, event)
    send(sqs, url, "{not json")
    calls = []
    real = sqs.delete_message_batch

    def refuse(**kwargs):
        calls.append(len(kwargs["Entries"]))
        return {
            "Successful": [],
            "Failed": [
                {
                    "Id": e["Id"],
                    "SenderFault": False,
                    "Code": "InternalError",
                    "Message": "try again",
                }
                for e in kwargs["Entries"]
            ],
        }

    monkeypatch.setattr(sqs, "delete_message_batch", refuse)
    first = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert first["processed"] == 1 and first["malformed"] == 1 and calls == [2]
    assert "not deleted (InternalError: try again)" in caplog.text
    tickets = Ticket.objects.count()

    monkeypatch.setattr(sqs, "delete_message_batch", real)
    again = event_queue.consume_once(client=sqs, wait_seconds=0)  # both delivered again
    assert again["received"] == 2 and again["processed"] == 1
    assert Ticket.objects.count() == tickets and HealthEvent.objects.count() == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None


def test_consumer_survives_a_database_error_and_reprocesses(queue, acme_account, monkeypatch):
    sqs, url, _dlq = queue
    send(sqs, url, sample("awshealthtools_issue_ec2_store_degraded_tags.json"))
    real = health.process_event
    calls = {"n": 0}

    def flaky(data):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(data)

    monkeypatch.setattr(health, "process_event", flaky)
    first = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert first["failed"] == 1 and not HealthEvent.objects.exists()
    second = event_queue.consume_once(client=sqs, wait_seconds=0)  # redelivered
    assert second["processed"] == 1 and HealthEvent.objects.count() == 1


def test_support_case_update_event_syncs_that_case(queue, acme, monkeypatch):
    from aws_integrations import support

    sqs, url, _dlq = queue
    account = AWSAccountFactory(
        customer=acme,
        account_id="123456789012",
        role_arn="arn:aws:iam::123456789012:role/SPTPortalAccess",
    )
    synced = []
    monkeypatch.setattr(
        support, "sync_one_case", lambda acc, case_id: synced.append((acc.account_id, case_id))
    )
    send(
        sqs,
        url,
        {
            "source": "aws.support",
            "detail-type": "Support Case Update",
            "account": "123456789012",
            "detail": {
                "case-id": "case-123456789012-muen-2026-x",
                "display-id": "1",
                "communication-id": "c1",
                "event-name": "AddCommunicationToCase",
                "origin": "AWS",
            },
        },
    )
    assert event_queue.consume_once(client=sqs, wait_seconds=0)["processed"] == 1
    assert synced == [("123456789012", "case-123456789012-muen-2026-x")]
    assert account.pk


def test_setup_command_is_idempotent(settings):
    settings.AWS_ENDPOINT_URL = ""
    with mock_aws():
        for _ in range(2):
            out = io.StringIO()
            call_command(
                "setup_health_eventbridge", "--regions", "us-east-1,ap-northeast-1", stdout=out
            )
        text = out.getvalue()
        assert "AWS_HEALTH_QUEUE_URL=" in text and "AWS_HEALTH_DLQ_URL=" in text
        events = boto3.client("events", region_name="ap-northeast-1")
        rule = events.describe_rule(Name="aws-health-events-to-spt")
        assert json.loads(rule["EventPattern"]) == {
            "source": ["aws.health"],
            "detail-type": ["AWS Health Event"],
        }
        sqs = boto3.client("sqs", region_name="us-east-1")
        assert len(sqs.list_queues()["QueueUrls"]) == 2
        url = [u for u in sqs.list_queues()["QueueUrls"] if not u.endswith("-dlq")][0]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] in (5, "5")
    dry = io.StringIO()
    call_command("setup_health_eventbridge", "--dry-run", stdout=dry)
    assert "would put rule aws-health-events-to-spt" in dry.getvalue()


def test_consume_command_once(queue, acme_account):
    sqs, url, _dlq = queue
    send(sqs, url, sample("healthinsight_detail_only_scheduledchange_4entities.json"))
    out = io.StringIO()
    call_command("consume_health_queue", "--once", "--wait", "0", stdout=out)
    assert "1 received, 1 processed" in out.getvalue()
    assert HealthEvent.objects.get().ticket.priority == "low"


def test_health_evidence_and_metrics(login, auditor, acme_account, client):
    health.process_event(
        health.normalize_eventbridge(sample("awshealthtools_issue_ec2_store_degraded_tags.json"))
    )
    page = login(auditor).get("/audit/SPT-006/").content.decode()
    assert "Last successful AWS Health poll" in page and "never" in page
    assert "1 events, 1 event tickets" in page
    assert login(auditor).get("/admin/aws_integrations/healthevent/").status_code == 200
    metrics = client.get("/metrics").content.decode()
    assert "spt_aws_health_last_poll_age_seconds" in metrics


def public_event():
    message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
    message["detail"]["eventScopeCode"] = "PUBLIC"
    message["account"] = ""
    message["detail"].pop("affectedEntities")
    return health.process_event(health.normalize_eventbridge(message)).event


def test_engineer_notifies_chosen_customers_of_a_public_event(
    login, engineer, auditor, acme_account, globex
):
    event = public_event()
    AWSAccountFactory(customer=globex, account_id="444455556666")
    client = login(engineer)
    page = client.get(f"/admin/tickets/ticket/{event.ticket.pk}/change/").content.decode()
    assert "AWS Health event: follow-up" in page and "Notify customers" in page
    assert "Write up in the knowledge base" in page
    url = f"/admin/aws_integrations/healthevent/{event.pk}/notify/"
    form = client.get(url).content.decode()
    assert acme_account.customer.name in form and globex.name in form
    mail.outbox.clear()
    response = client.post(url, {"customers": [acme_account.customer.pk]})
    assert response.status_code == 302
    assert HealthEventCustomer.objects.get().customer == acme_account.customer
    assert len([m for m in mail.outbox if "ops@acme.example" in m.to]) == 1
    assert login(auditor).post(url, {"customers": [globex.pk]}).status_code == 403
    assert HealthEventCustomer.objects.count() == 1


def test_checklist_is_ticked_in_the_workspace(login, engineer, acme_account):
    event = public_event()
    url = f"/admin/aws_integrations/healthevent/{event.pk}/change/"
    response = login(engineer).post(
        url,
        {
            "assessed": "on",
            "customers_contacted": "on",
            "healtheventcustomer_set-TOTAL_FORMS": "0",
            "healtheventcustomer_set-INITIAL_FORMS": "0",
            "customers-TOTAL_FORMS": "0",
            "customers-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event.refresh_from_db()
    assert event.assessed and event.customers_contacted and not event.summary_written


def test_reminder_to_update_customers(acme_account, engineer, settings):
    import time_machine
    from django.utils import timezone

    from aws_integrations.jobs import remind_health_updates
    from tickets import services

    settings.AWS_HEALTH_UPDATE_HOURS = 4
    outcome = health.process_event(
        health.normalize_eventbridge(sample("awshealthtools_issue_ec2_store_degraded_tags.json"))
    )
    services.ticket_assign(ticket=outcome.event.ticket, assignee=engineer, actor=engineer)
    assert remind_health_updates() == 0  # just notified
    with time_machine.travel(timezone.now() + timedelta(hours=5)):
        mail.outbox.clear()
        assert remind_health_updates() == 1
        assert remind_health_updates() == 1  # still due, but the email goes once per period
        assert len([m for m in mail.outbox if engineer.email in m.to]) == 1
        # An engineer posts an update on the customer's ticket: no more reminders.
        link = HealthEventCustomer.objects.get()
        services.comment_add(
            ticket=link.ticket, author=engineer, body="Still investigating with AWS."
        )
        assert remind_health_updates() == 0


def test_naive_times_are_read_as_utc():
    assert health.parse_time("2026-03-02T10:00:00").tzinfo is not None
    assert health.parse_time("Tue, 29 Aug 2023 03:13:27 GMT").hour == 3


def test_customer_notice_is_a_job_after_commit_and_never_sent_twice(acme_account):
    from django.db import transaction

    from aws_integrations.jobs import notify_health_customer
    from spt_portal.models import JobOutbox, NotificationLog

    message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
    with transaction.atomic():
        health.process_event(health.normalize_eventbridge(message))
        # Inside the consumer's transaction: the customer's ticket and link, no email yet.
        link = HealthEventCustomer.objects.get()
        assert link.ticket_id and link.notified_at is None
        assert not NotificationLog.objects.filter(template="health_notice").exists()
    # After commit the job ran (RQ runs jobs in-process in the tests).
    [job] = JobOutbox.objects.filter(func="aws_integrations.jobs.notify_health_customer")
    assert job.args == [link.pk, ["123456789012"]] and job.status == "dispatched"
    link.refresh_from_db()
    assert link.notified_at is not None and link.event.last_customer_update_at
    [log] = NotificationLog.objects.filter(template="health_notice")
    assert log.recipient == "ops@acme.example"
    # The job again (a retry), the same message again: nothing more is sent.
    assert notify_health_customer(link.pk, ["123456789012"]) == 0
    health.process_event(health.normalize_eventbridge(message))
    assert NotificationLog.objects.filter(template="health_notice").count() == 1
    assert notify_health_customer(999999, []) == 0
