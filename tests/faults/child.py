"""Runs inside a portal subprocess of the fault tests (``python -m tests.faults.child ...``,
with the environment the tests give the portal's processes).

    seed                 a customer with a contact, an API token and an AWS account (JSON out)
    consume-slow         the SQS consumer (consume_health_queue), stopping for two minutes
                         after its batch of events is committed and before their messages
                         are deleted, so that the test can SIGKILL it there
    poll-support first   poll_support_cases against a stubbed Support API (botocore
                         Stubber), stopping for two minutes in the middle of the second
                         case's import, so that the test can SIGKILL it there
    poll-support rerun   the next poll: AWS now has one more reply on the first case

The pauses print a line starting with FAULT-POINT when they begin.
"""

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta

import django

ACCOUNT_ID = "123456789012"
CONTACT = "alice@acme.example"
PAUSE_SECONDS = 120

# The Support cases AWS has for the account (Stubber answers from these).
T = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
AWS = "Amazon Web Services"
CASES = {
    "case-123456789012-muen-2026-aaaaaa01": 3,
    "case-123456789012-muen-2026-bbbbbb02": 3,
    "case-123456789012-muen-2026-cccccc03": 2,
}
FIRST_CASE = next(iter(CASES))


def communications(case_id: str, count: int, start: int = 0) -> list[dict]:
    return [
        {
            "caseId": case_id,
            "body": f"{case_id[-2:]} reply {n}",
            "submittedBy": AWS if n % 2 else "ops@acme.example",
            "timeCreated": (T + timedelta(minutes=n)).isoformat(),
        }
        for n in range(start, count)
    ]


def case(case_id: str) -> dict:
    return {
        "caseId": case_id,
        "displayId": case_id[-6:],
        "subject": f"Fault test case {case_id[-2:]}",
        "status": "opened",
        "serviceCode": "amazon-elastic-compute-cloud-linux",
        "categoryCode": "instance-issue",
        "severityCode": "normal",
        "submittedBy": "ops@acme.example",
        "timeCreated": (T - timedelta(days=1)).isoformat(),
        "language": "en",
    }


def seed() -> None:
    from django.contrib.auth.models import Group

    from spt_portal.models import Customer, CustomerAWSAccount, User
    from spt_portal.roles import Role
    from spt_portal.tokens import api_token_create
    from tests.faults.servers import PASSWORD

    customer = Customer.objects.create(name="Acme", short_code="ACME")
    contact = User.objects.create_user(
        email=CONTACT, password=PASSWORD, customer=customer, full_name="Alice",
        preferred_language="en",
    )  # fmt: skip
    contact.groups.add(Group.objects.get(name=Role.CUSTOMER))
    _row, token = api_token_create(user=contact, name="fault tests")
    CustomerAWSAccount.objects.create(
        customer=customer,
        account_id=ACCOUNT_ID,
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/SPTPortalAccess",
        support_plan="business",
    )
    print(json.dumps({"token": token, "contact": CONTACT, "password": PASSWORD}))


def consume_slow() -> None:
    from django.core.management import call_command

    from aws_integrations import event_queue

    delete = event_queue._delete

    def paused(client, queue_url, messages):
        # The batch's events are committed (one transaction), their messages not deleted.
        print(f"FAULT-POINT {len(messages)} events committed, messages not deleted", flush=True)
        time.sleep(PAUSE_SECONDS)
        return delete(client, queue_url, messages)

    event_queue._delete = paused
    call_command("consume_health_queue")


def poll_support(which: str) -> None:
    import boto3
    from botocore.stub import Stubber
    from django.core.management import call_command

    from aws_integrations import support
    from tickets import services
    from tickets.models import CommentSource

    if os.environ.get("FAULT_POLL_LOCK_SECONDS"):
        support.POLL_LOCK_SECONDS = int(os.environ["FAULT_POLL_LOCK_SECONDS"])
    client = boto3.client(
        "support", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stubber = Stubber(client)
    listing = {"includeResolvedCases": False, "includeCommunications": True}
    stubber.add_response(
        "describe_cases", {"cases": [case(c) for c in CASES]}, {**listing, "language": "en"}
    )
    stubber.add_response("describe_cases", {"cases": []}, {**listing, "language": "zh"})
    for case_id, count in CASES.items():
        if which == "rerun" and case_id == FIRST_CASE:
            # Stored up to its last reply: AWS is asked only for newer ones, and has one.
            after = (T + timedelta(minutes=count - 1)).isoformat()
            new = communications(case_id, count + 1, start=count)
            stubber.add_response(
                "describe_communications",
                {"communications": new},
                {"caseId": case_id, "afterTime": after},
            )
        else:
            stubber.add_response(
                "describe_communications",
                {"communications": communications(case_id, count)},
                {"caseId": case_id},
            )
    stubber.activate()
    support.support_client = lambda account: client

    if which == "first":
        comment_add = services.comment_add
        imported = []

        def paused(**kwargs):
            comment = comment_add(**kwargs)
            if kwargs.get("source") == CommentSource.AWS:
                imported.append(comment.pk)
                if len(imported) == CASES[FIRST_CASE] + 1:
                    print("FAULT-POINT second case half imported, not committed", flush=True)
                    time.sleep(PAUSE_SECONDS)
            return comment

        services.comment_add = paused
    call_command("poll_support_cases", "--account", ACCOUNT_ID)
    if which == "rerun":
        stubber.assert_no_pending_responses()


def main(argv: list[str]) -> None:
    django.setup()
    command = argv[0]
    if command == "seed":
        seed()
    elif command == "consume-slow":
        consume_slow()
    elif command == "poll-support":
        poll_support(argv[1])
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
