"""Amazon SNS message signatures, verified before anything else is done with a message.

Written on ``cryptography`` because the Python libraries that do this either lack
SignatureVersion 2 (SHA256withRSA) or fail on OpenSSL 3, and boto3 has no verifier.
Signing certificates are accepted only from ``https://sns.<region>.amazonaws.com[.cn]/``
and are fetched once and cached in the database (``manage.py sns_pin_certificate`` stores
one ahead of time for installations without egress).
"""

import base64
import logging
import re
import urllib.request
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)

CERT_URL = re.compile(r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[A-Za-z0-9._/-]+\.pem$")
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


class SNSError(Exception):
    """The message is not an authentic, fresh SNS message for us; the reason says why."""


def canonical_string(message: dict) -> bytes:
    kind = message.get("Type")
    if not isinstance(kind, str) or kind not in SIGNED_FIELDS:
        raise SNSError(f"unknown message type {kind!r}")
    parts = []
    for name in SIGNED_FIELDS[kind]:
        if name == "Subject" and name not in message:
            continue
        value = message.get(name)
        if not isinstance(value, str):
            raise SNSError(f"missing or non-text field {name}")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


def fetch_certificate(url: str) -> bytes:
    """The PEM for ``url``: from the cache, else fetched over HTTPS and cached."""
    from ..models import SNSCertificate

    if not CERT_URL.match(url):
        raise SNSError(f"signing certificate URL not on an SNS host: {url}")
    cached = SNSCertificate.objects.filter(url=url).first()
    if cached is not None:
        return cached.pem.encode()
    request = urllib.request.Request(url, headers={"User-Agent": "spt-portal"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - https only
            pem = response.read(64 * 1024)
    except OSError as exc:
        raise SNSError(f"could not fetch the signing certificate: {exc}") from exc
    x509.load_pem_x509_certificate(pem)  # refuse to cache garbage
    SNSCertificate.objects.update_or_create(url=url, defaults={"pem": pem.decode()})
    return pem


def verify(message: dict, *, now: datetime | None = None) -> None:
    """Raise SNSError unless ``message`` is signed by SNS, fresh and for a known topic."""
    now = now or timezone.now()
    # Anyone can post here: every field is checked for its type before use.
    version = message.get("SignatureVersion")
    if not isinstance(version, str) or version not in HASHES:
        raise SNSError(f"unsupported SignatureVersion {version!r}")
    topic = message.get("TopicArn", "")
    if topic not in settings.SES_SNS_TOPIC_ARNS:
        raise SNSError(f"topic not configured: {topic!r}")
    try:
        signature = base64.b64decode(message.get("Signature", ""), validate=True)
    except (TypeError, ValueError) as exc:
        raise SNSError("signature is not base64") from exc
    pem = fetch_certificate(
        str(message.get("SigningCertURL") or message.get("SigningCertUrl") or "")
    )
    certificate = x509.load_pem_x509_certificate(pem)
    if not (certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc):
        raise SNSError("signing certificate is not valid now")
    try:
        certificate.public_key().verify(
            signature, canonical_string(message), padding.PKCS1v15(), HASHES[version]()
        )
    except InvalidSignature as exc:
        raise SNSError("signature does not match") from exc
    try:
        sent = datetime.fromisoformat(message["Timestamp"].replace("Z", "+00:00"))
    except (KeyError, ValueError) as exc:
        raise SNSError("bad Timestamp") from exc
    if abs(now - sent) > timedelta(seconds=settings.SNS_MAX_AGE_SECONDS):
        raise SNSError(f"message too old (sent {message['Timestamp']})")
