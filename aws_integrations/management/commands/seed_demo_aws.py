"""Demo data in a local AWS emulator (moto server) for the quick start.

Creates the EventBridge/SQS plumbing, sends sample AWS Health events to the queue (the
real consumer turns them into tickets and notices), and opens AWS Support cases in the
demo customer's account (the real poll turns them into tickets). Only against an
emulator: it refuses to run without AWS_ENDPOINT_URL.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from aws_integrations.clients import partner_client, support_client
from spt_portal.models import CustomerAWSAccount

DEMO_DATA = Path(__file__).resolve().parents[2] / "demo_data"
DEMO_CASES = [
    ("RDS failover takes longer than expected", "amazon-relational-database-service-mysql"),
    ("EC2 instance status check failed", "amazon-elastic-compute-cloud-linux"),
]


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        if not settings.AWS_ENDPOINT_URL:
            raise CommandError("seed_demo_aws only runs against an emulator (AWS_ENDPOINT_URL)")
        call_command("setup_health_eventbridge", "--regions", "us-east-1", stdout=self.stdout)
        sqs = partner_client("sqs")
        url = sqs.get_queue_url(QueueName="spt-portal-events")["QueueUrl"]
        sent = 0
        for path in sorted(DEMO_DATA.glob("*.json")):
            sqs.send_message(QueueUrl=url, MessageBody=path.read_text())
            sent += 1
        self.stdout.write(f"sent {sent} sample AWS Health events to {url}")
        account = CustomerAWSAccount.objects.filter(account_id="123456789012").first()
        if account is None:
            raise CommandError("run seed_demo first")
        client = support_client(account)
        existing = {c["subject"] for c in client.describe_cases(includeResolvedCases=True)["cases"]}
        opened = 0
        for subject, service in DEMO_CASES:
            if subject in existing:
                continue
            client.create_case(
                subject=subject,
                serviceCode=service,
                categoryCode="general-guidance",
                severityCode="normal",
                communicationBody=subject,
                language="en",
            )
            opened += 1
        self.stdout.write(f"opened {opened} demo AWS Support cases in account {account.account_id}")
        self.stdout.write(json.dumps({"AWS_HEALTH_QUEUE_URL": url}))
