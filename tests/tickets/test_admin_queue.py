"""The engineer queue's rows are written directly (tickets.admin_queue): the page must be
the very page Django's own changelist rendering gives, in both languages and with filters
kept in the links."""

import re
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from tickets import admin_queue, services
from tickets.models import Priority, Status

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/tickets/ticket/"


def _table(html: str) -> str:
    start = html.index('<table id="result_list">')
    return html[start : html.index("</table>", start)]


@pytest.fixture
def queue(acme, acme_user, engineer):
    tickets = [
        services.ticket_create(
            customer=acme,
            requester=acme_user,
            title='<b>"Quotes" & tags</b> 云服务器',
            priority=Priority.CRITICAL,
            actor=acme_user,
        ),
        services.ticket_create(
            customer=None, requester=None, title="internal", priority=Priority.LOW, actor=None
        ),
        services.ticket_create(customer=acme, requester=acme_user, title="t3", actor=acme_user),
    ]
    services.ticket_assign(ticket=tickets[0], assignee=engineer, actor=engineer)
    services.ticket_change_status(ticket=tickets[2], status=Status.RESOLVED, actor=engineer)
    return tickets


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("query", ["", "?priority__exact=critical", "?o=3.-8&q=t"])
def test_fast_rows_are_the_rows_django_writes(login, engineer, queue, language, query):
    engineer.preferred_language = language
    engineer.save()
    client = login(engineer)
    with time_machine.travel(timezone.now(), tick=False):
        ours = client.get(CHANGELIST + query)
        with mock.patch.object(admin_queue, "queue_rows", return_value=None):
            django = client.get(CHANGELIST + query)
    assert ours.status_code == django.status_code == 200
    ours_table, django_table = _table(ours.content.decode()), _table(django.content.decode())
    # Whitespace between rows differs (one cell string against Django's loop); nothing else.
    squeeze = lambda html: re.sub(r">\s+<", "><", html)  # noqa: E731
    assert squeeze(ours_table) == squeeze(django_table)
    assert "&lt;b&gt;&quot;Quotes&quot; &amp; tags&lt;/b&gt;" in ours_table
    if query.startswith("?priority"):
        assert "_changelist_filters=priority__exact%3Dcritical" in ours_table


def test_a_popup_list_is_left_to_django(login, engineer, queue):
    client = login(engineer)
    with mock.patch.object(admin_queue, "result_list", wraps=admin_queue.result_list) as django:
        response = client.get(CHANGELIST + "?_popup=1&_to_field=id")
    assert response.status_code == 200
    assert django.called


def test_ticket_page_assignee_is_a_search_box_and_aws_section_only_when_linked(
    login, engineer, queue
):
    client = login(engineer)
    page = client.get(f"/admin/tickets/ticket/{queue[0].pk}/change/").content.decode()
    assert '<select name="assignee" id="id_assignee" class="admin-autocomplete"' in page
    assert "aws_case_id" not in page
    Ticket = type(queue[0])
    Ticket.objects.filter(pk=queue[0].pk).update(aws_case_id="case-1")
    page = client.get(f"/admin/tickets/ticket/{queue[0].pk}/change/").content.decode()
    assert "case-1" in page
