"""API tokens kept per process (spt_portal/tokens.py): reused without a query, and a
revocation, deactivation or deletion holds from the very next request."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from spt_portal import config_cache
from spt_portal.models import APIToken
from spt_portal.tokens import api_token_create, api_token_revoke, user_for_token


@pytest.fixture
def token(acme_user):
    row, token = api_token_create(user=acme_user)
    assert user_for_token(token) == acme_user  # kept from here on
    return row, token


def test_a_kept_token_is_answered_without_a_query(token, acme_user, django_assert_num_queries):
    _row, plain = token
    with django_assert_num_queries(0):
        user = user_for_token(plain)
    assert user == acme_user
    assert user.customer == acme_user.customer


def test_a_wrong_secret_with_a_kept_prefix_is_refused(token):
    _row, plain = token
    assert user_for_token(plain[:-4] + "AAAA") is None
    assert user_for_token(plain) is not None


def test_a_revoked_token_is_refused_at_once(token):
    row, plain = token
    api_token_revoke(token=row)
    assert user_for_token(plain) is None


def test_a_deleted_token_is_refused_at_once(token):
    row, plain = token
    row.delete()
    assert user_for_token(plain) is None


def test_a_deactivated_user_is_refused_at_once(token, acme_user):
    _row, plain = token
    acme_user.is_active = False
    acme_user.save(update_fields=["is_active"])
    assert user_for_token(plain) is None


def test_a_deactivated_customer_is_refused_at_once(token, acme):
    _row, plain = token
    acme.is_active = False
    acme.save()
    assert user_for_token(plain) is None


def test_a_changed_user_is_seen_at_once(token, acme_user):
    _row, plain = token
    acme_user.full_name = "Renamed"
    acme_user.save()
    assert user_for_token(plain).full_name == "Renamed"


def test_each_call_gets_its_own_user(token):
    """What one request sets on its user (role and permission caches, edits) never reaches
    another request."""
    _row, plain = token
    first = user_for_token(plain)
    first._spt_roles = frozenset({"manager"})
    first.email = "changed@example.com"
    first.customer.name = "Changed"
    second = user_for_token(plain)
    assert not hasattr(second, "_spt_roles")
    assert second.email == "alice@acme.example"
    assert second.customer.name == "Acme"


def test_a_change_behind_the_models_back_is_seen_after_max_age(token, monkeypatch):
    """The limit (docs/architecture.md): QuerySet.update() sends no signal."""
    row, plain = token
    APIToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    assert user_for_token(plain) is not None
    later = time.monotonic() + config_cache.MAX_AGE + 1
    monkeypatch.setattr(config_cache.time, "monotonic", lambda: later)
    assert user_for_token(plain) is None


def test_use_is_recorded_at_most_once_a_minute(acme_user, django_assert_num_queries):
    row, plain = api_token_create(user=acme_user)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        user_for_token(plain)
    row.refresh_from_db()
    assert row.last_used_at == start
    soon = time_machine.travel(start + timedelta(seconds=30), tick=False)
    with soon, django_assert_num_queries(0):
        user_for_token(plain)
    later = time_machine.travel(start + timedelta(seconds=61), tick=False)
    with later, django_assert_num_queries(1):  # the update
        user_for_token(plain)
    row.refresh_from_db()
    assert row.last_used_at == start + timedelta(seconds=61)


def test_unknown_and_malformed_tokens(acme_user):
    assert user_for_token("spt_0123456789ab_nope") is None
    assert user_for_token("spt_nope_nope") is None
    assert user_for_token("spt_\x00_x") is None
