import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tickets import services
from tickets.models import Status, Ticket, Visibility

pytestmark = pytest.mark.django_db


def make(customer, requester, title="Disk full on db-1", **kwargs):
    return services.ticket_create(
        customer=customer, requester=requester, title=title, actor=requester, **kwargs
    )


def test_customer_files_a_ticket_with_an_attachment(login, acme_user):
    client = login(acme_user)
    form = client.get("/portal/tickets/new/").content.decode()
    assert "Production completely down" in form  # the priority definitions beside the choices
    response = client.post(
        "/portal/tickets/new/",
        {
            "title": "RDS failover loop",
            "description": "since 09:00",
            "priority": "high",
            "attachments": [SimpleUploadedFile("error.log", b"ERROR 1040 too many connections")],
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/tickets/{ticket.number}/"
    assert ticket.customer == acme_user.customer
    assert ticket.requester == acme_user
    assert ticket.priority == "high"
    assert ticket.attachments.get().filename == "error.log"
    page = client.get(response["Location"]).content.decode()
    assert "RDS failover loop" in page and "error.log" in page


def test_create_form_errors_are_shown_not_500(login, acme_user):
    client = login(acme_user)
    response = client.post("/portal/tickets/new/", {"title": "", "priority": "bogus"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Ticket.objects.exists()


def test_customers_never_see_other_organisations(login, acme, globex, acme_user, globex_user):
    mine = make(acme, acme_user, title="Acme ticket")
    theirs = make(
        globex,
        globex_user,
        title="Globex secret",
        attachments=[SimpleUploadedFile("globex.txt", b"secret")],
    )
    client = login(acme_user)
    listing = client.get("/portal/").content.decode()
    assert mine.number in listing
    assert theirs.number not in listing and "Globex secret" not in listing
    assert client.get(f"/portal/tickets/{theirs.number}/").status_code == 404
    assert client.post(f"/portal/tickets/{theirs.number}/", {"body": "hi"}).status_code == 404
    assert client.post(f"/portal/tickets/{theirs.number}/confirm/").status_code == 404
    attachment = theirs.attachments.get()
    assert client.get(f"/portal/attachments/{attachment.pk}/").status_code == 404
    search = client.get(f"/portal/?q={theirs.number}").content.decode()
    assert f'href="/portal/tickets/{theirs.number}/"' not in search
    assert "No tickets match." in search


def test_internal_notes_never_reach_the_customer(login, acme, acme_user, engineer):
    ticket = make(acme, acme_user)
    services.comment_add(ticket=ticket, author=engineer, body="Visible answer")
    note = services.comment_add(
        ticket=ticket,
        author=engineer,
        body="INTERNAL: customer misconfigured the SG",
        visibility=Visibility.INTERNAL,
        attachments=[SimpleUploadedFile("internal.txt", b"x")],
    )
    client = login(acme_user)
    page = client.get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "Visible answer" in page
    assert "INTERNAL" not in page and "internal.txt" not in page
    assert client.get(f"/portal/attachments/{note.attachments.get().pk}/").status_code == 404


def test_reply_confirm_and_reopen(login, acme, acme_user, engineer):
    ticket = make(acme, acme_user)
    client = login(acme_user)
    response = client.post(f"/portal/tickets/{ticket.number}/", {"body": "Any news?"})
    assert response.status_code == 302
    assert ticket.comments.get().body == "Any news?"

    assert client.post(f"/portal/tickets/{ticket.number}/", {"body": ""}).status_code == 200

    services.ticket_change_status(ticket=ticket, status=Status.RESOLVED, actor=engineer)
    page = client.get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "Yes, close the ticket" in page
    client.post(f"/portal/tickets/{ticket.number}/confirm/")
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED

    client.post(f"/portal/tickets/{ticket.number}/reopen/")
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    # Confirming a ticket that is not resolved is a message, not a 500.
    response = client.post(f"/portal/tickets/{ticket.number}/confirm/", follow=True)
    assert "Only a resolved ticket can be confirmed." in response.content.decode()


def test_attachments_are_downloaded_never_rendered(login, acme, acme_user):
    ticket = make(
        acme, acme_user, attachments=[SimpleUploadedFile("page.txt", b"<script>alert(1)</script>")]
    )
    response = login(acme_user).get(f"/portal/attachments/{ticket.attachments.get().pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_filters_and_search(login, acme, acme_user, engineer):
    a = make(acme, acme_user, title="Billing question", priority="low")
    b = make(acme, acme_user, title="Outage in cn-north-1", priority="critical")
    services.ticket_change_status(ticket=b, status=Status.IN_PROGRESS, actor=engineer)
    client = login(acme_user)
    by_priority = client.get("/portal/?priority=critical").content.decode()
    assert b.number in by_priority and a.number not in by_priority
    by_status = client.get("/portal/?status=new").content.decode()
    assert a.number in by_status and b.number not in by_status
    by_text = client.get("/portal/?q=billing").content.decode()
    assert a.number in by_text and b.number not in by_text
    assert client.get("/portal/?status=nonsense&page=abc").status_code == 200


@pytest.mark.parametrize("count", [3, 30])
def test_list_page_query_budget_is_constant(
    login, acme, acme_user, engineer, django_assert_max_num_queries, count
):
    for n in range(count):
        ticket = make(acme, acme_user, title=f"t{n}")
        services.ticket_assign(ticket=ticket, assignee=engineer, actor=engineer)
    client = login(acme_user)
    with django_assert_max_num_queries(8):
        response = client.get("/portal/")
    assert response.status_code == 200


def test_ticket_page_query_budget_is_constant_in_comments(
    login, acme, acme_user, engineer, django_assert_max_num_queries
):
    ticket = make(acme, acme_user)
    for n in range(20):
        services.comment_add(ticket=ticket, author=engineer if n % 2 else acme_user, body=f"c{n}")
    client = login(acme_user)
    with django_assert_max_num_queries(16):
        assert client.get(f"/portal/tickets/{ticket.number}/").status_code == 200


def test_ticket_page_queries_do_not_depend_on_the_assignee(login, acme, acme_user, engineer):
    """bench/ found one more query for tickets with an assignee (loaded lazily)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    unassigned = make(acme, acme_user, title="a")
    Ticket.objects.filter(pk=unassigned.pk).update(assignee=None)
    assigned = make(acme, acme_user, title="b")
    services.ticket_assign(ticket=assigned, assignee=engineer, actor=engineer)
    client = login(acme_user)
    counts = []
    for ticket in (unassigned, assigned):
        client.get(f"/portal/tickets/{ticket.number}/")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/portal/tickets/{ticket.number}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_staff_and_anonymous_are_kept_out_of_the_portal(client, login, engineer, acme, acme_user):
    ticket = make(acme, acme_user)
    assert client.get(f"/portal/tickets/{ticket.number}/").status_code == 302
    assert login(engineer).get(f"/portal/tickets/{ticket.number}/").status_code == 403
