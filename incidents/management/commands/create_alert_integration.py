from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from incidents.alerts import AlertError, integration_create
from incidents.models import IntegrationKind

HOOKS = {
    IntegrationKind.ALERTMANAGER: "incidents:hook_alertmanager",
    IntegrationKind.GRAFANA: "incidents:hook_grafana",
    IntegrationKind.GENERIC: "incidents:hook_generic",
}


class Command(BaseCommand):
    help = (
        "Create an alert integration and print its webhook URL with the token "
        "(shown once; stored hashed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=IntegrationKind.values)
        parser.add_argument(
            "--service-label", default="service", help="label naming the affected service"
        )
        parser.add_argument(
            "--no-auto-incidents",
            action="store_true",
            help="never open incidents from this integration's critical alerts",
        )

    def handle(self, *args, name, kind, service_label, no_auto_incidents, **options):
        try:
            integration, token = integration_create(
                name=name,
                kind=kind,
                service_label=service_label,
                auto_create_incidents=not no_auto_incidents,
            )
        except AlertError as exc:
            raise CommandError(str(exc)) from exc
        url = f"{settings.SITE_URL}{reverse(HOOKS[kind])}?token={token}"
        self.stdout.write(f"Created integration {integration.name} ({integration.kind}).")
        self.stdout.write(f"Webhook URL: {url}")
        self.stdout.write(
            "Keep it secret. Senders that can set headers may send "
            f"'Authorization: Bearer {token}' to {settings.SITE_URL}{reverse(HOOKS[kind])} "
            "instead."
        )
