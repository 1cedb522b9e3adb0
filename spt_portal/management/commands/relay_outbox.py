from django.core.management.base import BaseCommand

from spt_portal.outbox import RELAY_LIMIT, relay_pending


class Command(BaseCommand):
    help = "Hand background jobs waiting in the outbox to the RQ queues (the cron does this too)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=RELAY_LIMIT, help="due rows looked at in this run"
        )

    def handle(self, *args, limit, **options):
        counts = relay_pending(limit=limit)
        self.stdout.write(
            f"{counts['due']} due, {counts['confirmed']} found queued, "
            f"{counts['dispatched']} handed to RQ, {counts['pending']} still waiting"
        )
