"""The conversation on both ticket pages (tickets/templatetags/ticket_conversation.py)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tickets import services
from tickets.models import CommentSource, Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(acme, acme_user, engineer):
    ticket = services.ticket_create(
        customer=acme, requester=acme_user, title="disk full", actor=acme_user
    )
    services.comment_add(
        ticket=ticket,
        author=acme_user,
        body='<b>hi</b> & "q"\nline 2',
        attachments=[SimpleUploadedFile("log.txt", b"x" * 2048, content_type="text/plain")],
    )
    services.comment_add(
        ticket=ticket, author=engineer, body="<i>note</i>", visibility=Visibility.INTERNAL
    )
    services.comment_add(ticket=ticket, author=engineer, body="we are on it")
    services.comment_add(
        ticket=ticket,
        author=None,
        author_name="AWS <Support>",
        body="aws",
        source=CommentSource.AWS,
    )
    return ticket


def _conversation(html: str, start: str, end: str) -> str:
    begin = html.index(start)
    return html[begin : html.index(end, begin)]


def test_admin_conversation_marks_notes_and_escapes(login, engineer, ticket):
    html = login(engineer).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    part = _conversation(html, 'id="conversation"', "</fieldset>")
    assert part.count('class="spt-comment ') == 4
    assert "&lt;b&gt;hi&lt;/b&gt; &amp; &quot;q&quot;<br>line 2" in part
    assert '<div class="spt-comment spt-internal" data-visibility="internal">' in part
    assert '<span class="spt-tag spt-tag-internal">Internal note</span>' in part
    assert "&lt;i&gt;note&lt;/i&gt;" in part
    assert "<strong>AWS &lt;Support&gt;</strong>" in part
    assert "log.txt</a> (2.0\xa0KB)" in part
    assert "AWS Support · " in part  # the comment's source


def test_portal_conversation_shows_public_replies_only(login, acme_user, ticket):
    acme_user.preferred_language = "zh-hans"
    acme_user.save()
    html = login(acme_user).get(f"/portal/tickets/{ticket.number}/").content.decode()
    part = _conversation(html, 'data-testid="conversation"', "<form")
    assert part.count('<div class="card mb-2') == 3
    assert "note" not in part
    assert "&lt;b&gt;hi&lt;/b&gt; &amp; &quot;q&quot;\nline 2" in part
    assert part.count(" border-primary") == 2  # the engineer's reply and AWS's
    assert part.count(" · 支持工程师") == 1
    assert "附件" in part and "log.txt" in part


def test_empty_conversations(login, acme, acme_user, engineer):
    ticket = services.ticket_create(customer=acme, requester=acme_user, title="t", actor=acme_user)
    admin = login(engineer).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert '<p class="spt-muted">No replies yet.</p>' in admin
    portal = login(acme_user).get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert '<p class="text-muted">No replies yet.</p>' in portal


def test_each_reader_sees_the_files_of_what_they_may_read(login, acme_user, engineer, ticket):
    """One read of the ticket's files serves the whole page (selectors.conversation): a
    customer never gets a staff-only file nor one on an internal note; engineers see all,
    each under its own comment."""
    from tickets.models import Attachment

    note = services.comment_add(
        ticket=ticket,
        author=engineer,
        body="internal findings",
        visibility=Visibility.INTERNAL,
        attachments=[SimpleUploadedFile("internal-trace.txt", b"t")],
    )
    reply = services.comment_add(
        ticket=ticket,
        author=engineer,
        body="the fix",
        attachments=[SimpleUploadedFile("fix.txt", b"run this")],
    )
    Attachment.objects.create(
        ticket=ticket, comment=reply, file=SimpleUploadedFile("raw.eml", b"x"),
        filename="raw.eml", size=1, staff_only=True,
    )  # fmt: skip
    Attachment.objects.create(
        ticket=ticket, file=SimpleUploadedFile("ticket-level.png", b"p"),
        filename="ticket-level.png", size=1,
    )  # fmt: skip
    portal = login(acme_user).get(f"/portal/tickets/{ticket.number}/").content.decode()
    part = _conversation(portal, 'data-testid="conversation"', "<form")
    assert "fix.txt" in part and "log.txt" in part
    for hidden in ("internal-trace.txt", "raw.eml"):
        assert hidden not in portal
    assert "ticket-level.png" in portal and "ticket-level.png" not in part
    admin = login(engineer).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    part = _conversation(admin, 'id="conversation"', "</fieldset>")
    note_html = part[part.index("internal findings") : part.index("the fix")]
    assert "internal-trace.txt" in note_html and "fix.txt" not in note_html
    assert "fix.txt" in part[part.index("the fix") :] and "raw.eml" in part
    assert note.visibility == Visibility.INTERNAL


def test_ticket_pages_read_the_files_once_whatever_the_comments(
    login, acme, acme_user, engineer, ticket
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(client, url):
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    from django.test import Client

    portal, admin = Client(), Client()
    portal.force_login(acme_user)
    admin.force_login(engineer)
    portal_url = f"/portal/tickets/{ticket.number}/"
    admin_url = f"/admin/tickets/ticket/{ticket.pk}/change/"
    before = queries(portal, portal_url), queries(admin, admin_url)
    for n in range(6):
        services.comment_add(
            ticket=ticket,
            author=engineer if n % 2 else acme_user,
            body=f"c{n}",
            attachments=[SimpleUploadedFile(f"f{n}.txt", b"x")],
        )
    assert (queries(portal, portal_url), queries(admin, admin_url)) == before
