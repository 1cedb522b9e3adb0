from pathlib import Path

from cryptography import x509
from django.core.management.base import BaseCommand, CommandError

from tickets.inbound.sns import CERT_URL
from tickets.models import SNSCertificate


class Command(BaseCommand):
    help = (
        "Store the SNS signing certificate for URL from FILE, so the portal never fetches it "
        "(for installations whose egress is restricted)."
    )

    def add_arguments(self, parser):
        parser.add_argument("url")
        parser.add_argument("file")

    def handle(self, *args, url, file, **options):
        if not CERT_URL.match(url):
            raise CommandError(f"not an SNS certificate URL: {url}")
        pem = Path(file).read_bytes()
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise CommandError(f"{file} is not a PEM certificate: {exc}") from exc
        SNSCertificate.objects.update_or_create(url=url, defaults={"pem": pem.decode()})
        self.stdout.write(
            f"pinned {url} (subject {certificate.subject.rfc4514_string()}, "
            f"valid until {certificate.not_valid_after_utc:%Y-%m-%d})"
        )
