from django.core.management.base import BaseCommand, CommandError

from aws_integrations import support
from spt_portal.models import CustomerAWSAccount


class Command(BaseCommand):
    help = "Sync AWS Support cases now (every enabled account, or one with --account)."

    def add_arguments(self, parser):
        parser.add_argument("--account", help="a 12-digit AWS account id")

    def handle(self, *args, account=None, **options):
        accounts = CustomerAWSAccount.objects.filter(support_sync_enabled=True).exclude(role_arn="")
        if account:
            accounts = accounts.filter(account_id=account)
            if not accounts.exists():
                raise CommandError(f"no enabled account {account} with an IAM role")
        failed = 0
        for item in accounts.select_related("customer"):
            run = support.poll_account(item)
            failed += run.outcome == "failed"
            errors = f": {run.errors}" if run.errors else ""
            self.stdout.write(
                f"{item.account_id} ({item.customer.short_code}): {run.outcome}, "
                f"{run.cases_seen} cases, {run.tickets_created} new tickets, "
                f"{run.comments_imported} comments imported{errors}"
            )
        if failed:
            raise CommandError(f"{failed} account(s) failed")
