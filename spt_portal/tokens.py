"""API tokens: creation (shown once), lookup by prefix, constant-time hash comparison."""

import hashlib
import hmac
import logging
import re
import secrets

from django.utils import timezone

from .auth import customer_is_active
from .models import APIToken, User

logger = logging.getLogger(__name__)
_PREFIX = re.compile(r"[0-9a-f]{12}")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, user: User, name: str = "") -> tuple[APIToken, str]:
    """Create a token for ``user``; returns the row and the plain token (not stored)."""
    prefix = secrets.token_hex(6)
    token = f"spt_{prefix}_{secrets.token_urlsafe(32)}"
    row = APIToken.objects.create(user=user, name=name, prefix=prefix, key_hash=_hash(token))
    return row, token


def api_token_revoke(*, token: APIToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def user_for_token(token: str) -> User | None:
    """The active user a token belongs to, or None. Records the token's last use."""
    parts = token.split("_")
    # The prefix is token_hex(6): anything else (a NUL byte, which PostgreSQL refuses in
    # a query, included) is not a token and never reaches the database.
    if len(parts) < 3 or parts[0] != "spt" or not _PREFIX.fullmatch(parts[1]):
        return None
    row = (
        APIToken.objects.select_related("user", "user__customer")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if row is None or not hmac.compare_digest(row.key_hash, _hash(token)):
        return None
    if not row.user.is_active or not customer_is_active(row.user):
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        APIToken.objects.filter(pk=row.pk).update(last_used_at=now)
    logger.info("api: token %s used by %s", row.prefix, row.user.email)
    return row.user
