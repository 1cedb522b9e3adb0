"""A batch of AWS Health events (the SQS consumer's receive) is stored together
(``health.process_events``): exactly what ``process_event`` stores one by one, in a few
statements for the lot; a failing event is rolled back alone; an event already stored, or
twice in the batch, and a batch that cannot be stored together go one by one."""

import copy
import json
from pathlib import Path

import boto3
import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from moto import mock_aws

from aws_integrations import event_queue, health
from aws_integrations.models import HealthEvent, HealthEventCustomer
from incidents.models import Rule
from spt_portal.jobs import SomeFailed
from spt_portal.models import ChannelKind, JobOutbox, NotificationChannel, NotificationLog
from tests.factories import AWSAccountFactory, CustomerUserFactory
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "aws_health"


def sample(name):
    return json.loads((SAMPLES / name).read_text())


@pytest.fixture
def customers(acme, globex):
    for customer, email in ((acme, "ops@acme.example"), (globex, "ops@globex.example")):
        CustomerUserFactory(customer=customer, email=email, preferred_language="en")
    AWSAccountFactory(customer=acme, account_id="123456789012")
    AWSAccountFactory(customer=acme, account_id="987654321987")
    AWSAccountFactory(customer=globex, account_id="444455556666")
    rule = Rule(
        name="health tickets",
        rule_type="mixed",
        target="ticket",
        conditions={"priority": "high"},
        actions=[{"type": "notify", "channels": ["email"], "recipients": ["ops@partner.example"]}],
    )
    rule.full_clean()
    rule.save()
    # Public events are posted to the team's channels (delivery to a closed local port fails
    # and is retried later: nothing leaves the machine).
    NotificationChannel.objects.create(
        name="ops",
        kind=ChannelKind.WEBHOOK,
        url="http://127.0.0.1:9/hook",
        events=["health.public"],
    )
    return acme, globex


def storm(tag: str) -> list[health.NormalizedEvent]:
    """Five events of every shape: one customer, two customers and a stranger's account,
    a public event, one already closed, one of four resources."""
    issue = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
    vpn = sample("aha_orgview_vpn_accountnotification_republished.json")
    vpn["detail"]["affectedEntities"] += [
        {"entityValue": "vpn-globex000000001", "awsAccountId": "444455556666"},
        {"entityValue": "vpn-stranger0000001", "awsAccountId": "111100001111"},
    ]
    public = copy.deepcopy(issue)
    public["detail"]["eventScopeCode"] = "PUBLIC"
    public["account"] = ""
    public["detail"].pop("affectedEntities")
    closed = sample("healthinsight_accountnotification_lowercase_category.json")
    closed["detail"]["statusCode"] = "closed"
    planned = sample("healthinsight_detail_only_scheduledchange_4entities.json")  # bare detail
    planned["affectedAccount"] = "123456789012"
    events = []
    for n, message in enumerate((issue, vpn, public, closed, planned)):
        data = health.normalize_eventbridge(message)
        data.arn += f"-{tag}-{n}"
        events.append(data)
    return events


def picture() -> dict:
    """What the events left, without ids and times: tickets by their event and customer."""

    def key(ticket):
        return (ticket.aws_health_event_arn or "", ticket.customer_id, ticket.title[:60])

    tickets = {t.pk: t for t in Ticket.objects.filter(source="aws_health")}
    jobs = {"tickets": [], "customers": [], "rules": 0}
    for job in JobOutbox.objects.all():
        if job.func == "tickets.jobs.notify_ticket_created":
            jobs["tickets"].append(key(tickets[job.args[0]]))
        elif job.func == "tickets.jobs.notify_tickets_created":
            jobs["tickets"] += [key(tickets[pk]) for pk in job.args[0]]
        elif job.func == "aws_integrations.jobs.notify_health_customer":
            jobs["customers"].append(tuple(job.args))
        elif job.func == "aws_integrations.jobs.notify_health_customers":
            jobs["customers"] += [tuple(notice) for notice in job.args[0]]
        elif job.func == "incidents.jobs.evaluate_rules":
            jobs["rules"] += 1
    links = {link.pk: link for link in HealthEventCustomer.objects.select_related("event")}
    return {
        "events": sorted(
            (
                e.arn,
                e.status,
                e.category,
                e.description,
                tuple(e.affected_accounts),
                json.dumps(e.affected_entities, sort_keys=True),
                key(e.ticket),
            )
            for e in HealthEvent.objects.select_related("ticket")
        ),
        "tickets": sorted(
            (
                key(t),
                t.description,
                t.priority,
                t.status,
                t.number == f"TKT-{t.pk:06d}",
                t.sla_policy_id,
                t.resolution_due_at - t.created_at,
                t.first_response_due_at - t.created_at,
            )
            for t in tickets.values()
        ),
        "history": sorted(
            (key(tickets[e.ticket_id]), e.kind, e.new_value, e.internal, e.actor_id)
            for e in TicketEvent.objects.filter(ticket__in=tickets)
        ),
        "links": sorted(
            (link.event.arn, link.customer_id, key(link.ticket))
            for link in HealthEventCustomer.objects.select_related("event", "ticket")
        ),
        "job_tickets": sorted(jobs["tickets"]),
        "job_customers": sorted(
            (links[link_id].event.arn, links[link_id].customer_id, tuple(ids))
            for link_id, ids in jobs["customers"]
        ),
        "rule_jobs": jobs["rules"],
        "notices": sorted(
            (n.channel, n.template, n.recipient) for n in NotificationLog.objects.all()
        ),
    }


def clear():
    for model in (HealthEventCustomer, HealthEvent, TicketEvent, JobOutbox, NotificationLog):
        model.objects.all().delete()
    Ticket.objects.filter(source="aws_health").delete()


def test_a_batch_stores_what_one_by_one_stores(customers):
    one_by_one = storm("x")
    with transaction.atomic():
        for data in one_by_one:
            health.process_event(data)
    expected = picture()
    clear()

    together = storm("x")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        outcomes = health.process_events(together)
    assert [o.created for o in outcomes] == [True] * 5
    assert [o.customers_notified for o in outcomes] == [1, 2, 0, 1, 1]
    assert outcomes[1].unknown_accounts == ["111100001111"]
    assert picture() == expected
    # The shapes were exercised: rules heard of the tickets, the public event was posted.
    assert expected["rule_jobs"] > 0
    assert ("webhook", "health.public", "http://127.0.0.1:9/hook") in expected["notices"]
    # About thirty statements for the lot (with the closed event's resolution and notices,
    # and an evaluation job per ticket for the active rule), where one by one takes about
    # fifteen an event.
    statements = [q["sql"] for q in queries.captured_queries if "evaluate_rules" not in q["sql"]]
    assert len(statements) <= 40, statements


def test_events_already_stored_or_twice_in_the_batch_go_one_by_one(customers):
    first = storm("y")
    health.process_events(first[:2])
    again = storm("y")
    update = copy.deepcopy(again[3])
    update.communication_id, update.description = "second", "Maintenance complete."
    with transaction.atomic():
        outcomes = health.process_events([again[0], again[3], update, again[4], again[2]])
    assert [o.created for o in outcomes] == [False, True, False, True, True]
    assert outcomes[2].changed
    assert HealthEvent.objects.count() == 5
    assert HealthEvent.objects.get(arn=update.arn).description == "Maintenance complete."
    # Two tickets for each event of one customer, three for the one of two customers, one
    # for the public event: the two new events once seen (planned, public) went together.
    assert Ticket.objects.filter(source="aws_health").count() == 2 + 3 + 2 + 2 + 1
    # Two batches stored together, each with one job for its events' own tickets and one
    # for its customers' tickets.
    assert JobOutbox.objects.filter(func="tickets.jobs.notify_tickets_created").count() == 4


def test_one_failing_event_is_rolled_back_alone(customers, monkeypatch):
    events = storm("z")
    real = health._create_together

    def refuse(items):
        raise IntegrityError("another consumer stored one of them")

    monkeypatch.setattr(health, "_create_together", refuse)
    process = health.process_event

    def broken(data):
        if data.arn == events[1].arn:
            raise RuntimeError("a bug")
        return process(data)

    monkeypatch.setattr(health, "process_event", broken)
    with transaction.atomic():
        outcomes = health.process_events(events)
    assert isinstance(outcomes[1], RuntimeError)
    assert sorted(HealthEvent.objects.values_list("arn", flat=True)) == sorted(
        e.arn for n, e in enumerate(events) if n != 1
    )
    monkeypatch.setattr(health, "_create_together", real)


@pytest.fixture
def queue(settings):
    settings.AWS_ENDPOINT_URL = ""
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "0"})[
            "QueueUrl"
        ]
        settings.AWS_HEALTH_QUEUE_URL = url
        settings.AWS_HEALTH_DLQ_URL = ""
        yield sqs, url


def test_the_consumer_stores_a_batch_and_the_jobs_send_each_notice_once(customers, queue):
    sqs, url = queue
    for n in range(6):
        message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
        message["detail"]["eventArn"] += f"-batch-{n}"
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
    counts = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert counts == {"received": 6, "processed": 6, "malformed": 0, "failed": 0}
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    # Jobs run synchronously in the tests: six notices, one per event, to acme's contact.
    notices = [m for m in mail.outbox if "ops@acme.example" in m.to]
    assert len(notices) == 6
    assert HealthEventCustomer.objects.filter(notified_at__isnull=False).count() == 6
    assert JobOutbox.objects.filter(func="aws_integrations.jobs.notify_health_customers").count()


def test_the_consumer_keeps_every_message_when_the_batch_cannot_commit(
    customers, queue, monkeypatch
):
    sqs, url = queue
    for n in range(3):
        message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
        message["detail"]["eventArn"] += f"-lost-{n}"
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))

    def lost(items):
        results = real(items)
        connection.needs_rollback = True  # as when the connection dies before COMMIT
        return results

    real = health.process_events
    monkeypatch.setattr(health, "process_events", lost)
    counts = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert counts["failed"] == 3 and counts["processed"] == 0
    assert not HealthEvent.objects.exists()
    monkeypatch.setattr(health, "process_events", real)
    again = event_queue.consume_once(client=sqs, wait_seconds=0)  # all delivered again
    assert again["processed"] == 3 and HealthEvent.objects.count() == 3


def test_a_batch_job_runs_every_item_and_then_fails_for_the_failed_ones(customers, monkeypatch):
    from aws_integrations import jobs

    calls = []

    def notify(link_id, account_ids):
        calls.append(link_id)
        if link_id == 2:
            raise RuntimeError("mail server down")
        return 1

    monkeypatch.setattr(jobs, "notify_health_customer", notify)
    with pytest.raises(SomeFailed, match="1 failed"):
        jobs.notify_health_customers([[1, ["a"]], [2, ["b"]], [3, ["c"]]])
    assert calls == [1, 2, 3]


def test_the_consumer_keeps_every_message_when_the_batch_fails(customers, queue, monkeypatch):
    from django.db import OperationalError

    sqs, url = queue
    for n in range(3):
        message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
        message["detail"]["eventArn"] += f"-down-{n}"
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
    real = health.process_events

    def down(items):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(health, "process_events", down)
    counts = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert counts == {"received": 3, "processed": 0, "malformed": 0, "failed": 3}
    monkeypatch.setattr(health, "process_events", real)
    again = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert again["processed"] == 3 and HealthEvent.objects.count() == 3


def test_a_batch_that_fails_half_written_is_stored_one_by_one(customers, monkeypatch):
    """Storing together fails after its tickets and events are written (a unique
    constraint: another consumer stored one meanwhile): all of it is rolled back, each event
    is stored one by one, and no job of the rolled-back rows reaches Redis."""
    from spt_portal import outbox

    handed = []
    hand_over = outbox._hand_over

    def recording(queue_name, rows):
        handed.extend(row.pk for row in rows)
        return hand_over(queue_name, rows)

    monkeypatch.setattr(outbox, "_hand_over", recording)
    bulk_create = HealthEventCustomer.objects.bulk_create

    def twin(*args, **kwargs):
        raise IntegrityError(
            'duplicate key value violates unique constraint "health_customer_once"'
        )

    monkeypatch.setattr(HealthEventCustomer.objects, "bulk_create", twin)
    events = storm("half")
    with transaction.atomic():
        outcomes = health.process_events(events)
    monkeypatch.setattr(HealthEventCustomer.objects, "bulk_create", bulk_create)
    assert [o.created for o in outcomes] == [True] * 5
    assert HealthEvent.objects.count() == 5 and HealthEventCustomer.objects.count() == 5
    assert Ticket.objects.filter(source="aws_health").count() == 10
    assert not JobOutbox.objects.filter(func="tickets.jobs.notify_tickets_created").exists()
    assert sorted(handed) == sorted(JobOutbox.objects.values_list("pk", flat=True))


def test_a_message_of_the_wrong_shape_goes_to_the_dead_letter_queue(customers, settings):
    """An impossible date, a field of the wrong type, a Support event whose detail is not an
    object: malformed (dead-letter queue), never a crash of the consumer; the batch's good
    event is stored."""
    settings.AWS_ENDPOINT_URL = ""
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="shapes", Attributes={"VisibilityTimeout": "0"})[
            "QueueUrl"
        ]
        dlq = sqs.create_queue(QueueName="shapes-dlq")["QueueUrl"]
        settings.AWS_HEALTH_DLQ_URL = dlq
        good = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
        bad_date = copy.deepcopy(good)
        bad_date["detail"]["eventArn"] += "-bad-date"
        bad_date["detail"]["startTime"] = "2024-02-30T00:00:00Z"
        bad_description = copy.deepcopy(good)
        bad_description["detail"]["eventArn"] += "-bad-description"
        bad_description["detail"]["eventDescription"] = ["oops"]
        bad_support = {"source": "aws.support", "account": "123456789012", "detail": "case-1"}
        for body in (good, bad_date, bad_description, bad_support):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
        counts = event_queue.consume_once(client=sqs, queue_url=url, wait_seconds=0)
        assert counts == {"received": 4, "processed": 1, "malformed": 3, "failed": 0}
        assert HealthEvent.objects.count() == 1
        dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
        assert len(dead) == 3
        assert sqs.receive_message(QueueUrl=url).get("Messages") is None


def test_a_batch_of_health_and_support_messages(customers, queue, monkeypatch):
    """Support case updates in a batch are synced one by one, outside the Health events'
    transaction (their AWS calls must not hold its locks); a failing one stays queued."""
    from aws_integrations import support

    sqs, url = queue
    AWSAccountFactory(
        customer=customers[0],
        account_id="210987654321",
        role_arn="arn:aws:iam::210987654321:role/SPTPortalAccess",
    )
    synced = []

    def sync(account, case_id):
        assert not connection.in_atomic_block  # not inside the Health batch's transaction
        if case_id.endswith("broken"):
            raise RuntimeError("AWS said no")
        synced.append(case_id)

    monkeypatch.setattr(support, "sync_one_case", sync)
    for n in range(2):
        message = sample("awshealthtools_issue_ec2_store_degraded_tags.json")
        message["detail"]["eventArn"] += f"-mixed-{n}"
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
    for case in ("case-1", "case-broken"):
        body = {"source": "aws.support", "account": "210987654321", "detail": {"case-id": case}}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    counts = event_queue.consume_once(client=sqs, wait_seconds=0)
    assert counts == {"received": 4, "processed": 3, "malformed": 0, "failed": 1}
    assert synced == ["case-1"] and HealthEvent.objects.count() == 2
    [left] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "case-broken" in left["Body"]
