import signal

from django.core.management.base import BaseCommand, CommandError

from aws_integrations import event_queue


class Command(BaseCommand):
    help = (
        "Consume the EventBridge SQS queue (AWS_HEALTH_QUEUE_URL): AWS Health events and AWS "
        "Support case updates. Runs until stopped; --once handles one batch and exits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--wait", type=int, default=20, help="long-poll seconds (0-20)")

    def handle(self, *args, once, wait, **options):
        if once:
            try:
                counts = event_queue.consume_once(wait_seconds=wait)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                "{received} received, {processed} processed, {malformed} malformed, "
                "{failed} failed".format(**counts)
            )
            return
        stopping = {"now": False}

        def stop(signum, frame):
            stopping["now"] = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("consuming; Ctrl-C or SIGTERM stops after the current batch")
        event_queue.consume_forever(stop=lambda: stopping["now"])
