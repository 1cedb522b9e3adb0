from django.core.management.base import BaseCommand, CommandError

from spt_portal.models import User
from spt_portal.tokens import api_token_create


class Command(BaseCommand):
    help = "Create a REST API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args, email, name, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with email {email}")
        if not user.is_active:
            raise CommandError(f"{email} is not active")
        _row, token = api_token_create(user=user, name=name)
        self.stdout.write(token)
