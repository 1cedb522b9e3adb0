"""The admin building blocks the large lists use (bench/README.md says why)."""

import pytest
from django.db import connection
from django.urls import reverse

from spt_portal.admin_mixins import EstimatedCountPaginator
from spt_portal.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_paginator_estimates_only_unfiltered_large_postgresql_tables(monkeypatch):
    for _ in range(5):
        CustomerFactory()
    exact = Customer.objects.count()
    assert EstimatedCountPaginator(Customer.objects.all(), 10).count == exact  # small
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE spt_portal_customer")
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_FROM", 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'spt_portal_customer'")
        estimate = int(cursor.fetchone()[0])
    assert EstimatedCountPaginator(Customer.objects.all(), 10).count == estimate
    filtered = Customer.objects.filter(name__startswith="Customer")
    assert EstimatedCountPaginator(filtered, 10).count == filtered.count()


def test_the_ticket_queue_keeps_its_action_checkboxes(login, engineer, acme, acme_user):
    from tickets.services import ticket_create

    ticket = ticket_create(customer=acme, requester=acme_user, title="t", actor=acme_user)
    page = login(engineer).get(reverse("admin:tickets_ticket_changelist")).content.decode()
    assert (
        f'<input type="checkbox" name="_selected_action" value="{ticket.pk}" '
        f'class="action-select" aria-label="Select this object for an action - {ticket}">'
    ) in page
    assert 'id="action-toggle"' in page
