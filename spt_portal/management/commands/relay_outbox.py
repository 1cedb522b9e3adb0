from django.core.management.base import BaseCommand

from spt_portal.outbox import relay_pending


class Command(BaseCommand):
    help = "Hand background jobs waiting in the outbox to the RQ queues (the cron does this too)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000)

    def handle(self, *args, limit, **options):
        counts = relay_pending(limit=limit)
        self.stdout.write(
            f"{counts['due']} due, {counts['dispatched']} handed to RQ, "
            f"{counts['pending']} still pending"
        )
