"""Create or update, idempotently, what brings AWS Health events to the portal:
an SQS queue with a dead-letter queue, the queue policy that lets EventBridge send,
and the rule ``aws-health-events-to-spt`` (the seed's event pattern) in each region."""

import json

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from aws_integrations.clients import partner_client

RULE = "aws-health-events-to-spt"
PATTERN = {"source": ["aws.health"], "detail-type": ["AWS Health Event"]}


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--regions", default="us-east-1", help="comma-separated")
        parser.add_argument("--queue-name", default="spt-portal-events")
        parser.add_argument("--max-receives", type=int, default=5)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, regions, queue_name, max_receives, dry_run, **options):
        regions = [r.strip() for r in regions.split(",") if r.strip()]
        home = regions[0]
        say = self.stdout.write
        if dry_run:
            say(
                f"would create SQS queue {queue_name}-dlq and {queue_name} in {home} "
                f"(redrive after {max_receives} receives)"
            )
            for region in regions:
                say(
                    f"would put rule {RULE} in {region} with pattern {json.dumps(PATTERN)} "
                    f"targeting {queue_name}"
                )
            say("would set the queue policy allowing events.amazonaws.com to send from those rules")
            return
        try:
            sqs = partner_client("sqs", home)
            dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            say(f"queue {queue_url} (dead letters: {dlq_url})")
            rule_arns = []
            for region in regions:
                events = partner_client("events", region)
                rule_arn = events.put_rule(
                    Name=RULE,
                    EventPattern=json.dumps(PATTERN),
                    State="ENABLED",
                    Description="AWS Health events to SPT Portal (SPT-006)",
                )["RuleArn"]
                events.put_targets(
                    Rule=RULE, Targets=[{"Id": "spt-portal-queue", "Arn": queue_arn}]
                )
                rule_arns.append(rule_arn)
                say(f"rule {rule_arn} -> {queue_arn}")
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EventBridgeToQueue",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
                    }
                ],
            }
            sqs.set_queue_attributes(
                QueueUrl=queue_url,
                Attributes={
                    "Policy": json.dumps(policy),
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
                    ),
                    "VisibilityTimeout": "120",
                },
            )
            say("queue policy and redrive policy set")
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"AWS refused: {exc}") from exc
        say(f"AWS_HEALTH_QUEUE_URL={queue_url}")
        say(f"AWS_HEALTH_DLQ_URL={dlq_url}")
