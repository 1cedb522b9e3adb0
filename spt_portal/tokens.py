"""API tokens: creation (shown once), lookup by prefix, constant-time hash comparison."""

import copy
import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime

from django.utils import timezone

from . import config_cache
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
    # Every API request asks this: the row, its user and their customer are kept per
    # process under the "api-tokens" version, which revoking or deleting a token, and
    # saving or deleting a user or a customer, bump (config_cache; apps.py). So a
    # revocation or deactivation holds from the very next request, in every process.
    row = config_cache.cached(TOKENS, parts[1], lambda: _token_row(parts[1]))
    if row is None or not hmac.compare_digest(row.key_hash, _hash(token)):
        return None
    # The request gets its own copies: nothing it sets on them (permission caches, roles)
    # outlives it or reaches another request.
    user = copy.copy(row.user)
    if user.customer_id is not None:
        user.customer = copy.copy(row.user.customer)
    if not user.is_active or not customer_is_active(user):
        return None
    _record_use(row)
    logger.info("api: token %s used by %s", row.prefix, user.email)
    return user


TOKENS = "api-tokens"


def _token_row(prefix: str) -> APIToken | None:
    return (
        APIToken.objects.select_related("user", "user__customer")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )


# When this process last recorded each token's use (the kept row's last_used_at is the
# one it was read with).
_recorded: dict[str, datetime] = {}


def _record_use(row: APIToken) -> None:
    """Record a token's last use, at most once a minute per process."""
    now = timezone.now()
    last = max(filter(None, (row.last_used_at, _recorded.get(row.prefix))), default=None)
    if last is not None and (now - last).total_seconds() <= 60:
        return
    APIToken.objects.filter(pk=row.pk).update(last_used_at=now)
    if len(_recorded) >= config_cache.MAX_ENTRIES:
        _recorded.clear()
    _recorded[row.prefix] = now
