"""The EventBridge -> SQS queue of the fault tests, on the session's moto server."""

import json
from pathlib import Path

SAMPLE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "aws_health"
    / "awshealthtools_issue_ec2_store_degraded_tags.json"
)


def health_event(n: int) -> str:
    """AWS's sample EC2 issue for account 123456789012 (the seeded customer's), one event
    per ``n``."""
    message = json.loads(SAMPLE.read_text())
    message["id"] = f"00000000-0000-4000-8000-{n:012d}"
    message["detail"]["eventArn"] += f"_FAULT{n}"
    return json.dumps(message)


class HealthQueue:
    """A queue with a dead-letter queue, as setup_health_eventbridge makes it. Messages
    come back 3 seconds after a receive that did not delete them."""

    def __init__(self, moto, name: str):
        self.sqs = moto.sqs()
        self.dlq = self.sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.dlq, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}
        self.url = self.sqs.create_queue(
            QueueName=name,
            Attributes={"VisibilityTimeout": "3", "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        self.env = {"AWS_HEALTH_QUEUE_URL": self.url, "AWS_HEALTH_DLQ_URL": self.dlq}

    def send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def counts(self, url: str | None = None) -> tuple[int, int]:
        """(waiting, received and not yet deleted)"""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )
