"""Knowledge base (SPT-004): search in Chinese and English, visibility, suggestions."""

import pytest

from tickets import knowledge, services
from tickets.models import Article, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles(engineer):
    def make(title, body, visibility="public", published=True):
        return Article.objects.create(
            title=title,
            body=body,
            visibility=visibility,
            is_published=published,
            created_by=engineer,
        )

    return {
        "backup_title": make("RDS 自动备份设置", "在控制台开启自动备份，保留期 7 天。"),
        "backup_body": make("数据库维护窗口", "维护期间不会影响备份，但会短暂重启。"),
        "english": make(
            "How to rotate IAM access keys", "Create a second key, switch, then delete the old one."
        ),
        "internal": make("内部：备份恢复演练", "仅限员工。", visibility="internal"),
        "draft": make("草稿：备份策略", "未发布。", published=False),
    }


def test_two_character_chinese_query_finds_and_ranks(acme_user, articles):
    results = knowledge.search(user=acme_user, query="备份")
    assert results[:2] == [articles["backup_title"], articles["backup_body"]]  # title first
    assert articles["internal"] not in results and articles["draft"] not in results


def test_english_and_multiple_terms(acme_user, articles):
    assert knowledge.search(user=acme_user, query="IAM keys") == [articles["english"]]
    assert knowledge.search(user=acme_user, query="IAM 备份") == []


def test_staff_see_internal_and_drafts(engineer, articles):
    results = knowledge.search(user=engineer, query="备份")
    assert articles["internal"] in results and articles["draft"] in results


def test_portal_pages_and_access(client, login, acme_user, articles):
    page = login(acme_user).get("/portal/kb/?q=备份").content.decode()
    assert "RDS 自动备份设置" in page and "内部：备份恢复演练" not in page
    assert login(acme_user).get(f"/portal/kb/{articles['internal'].pk}/").status_code == 404
    detail = login(acme_user).get(f"/portal/kb/{articles['backup_title'].pk}/").content.decode()
    assert "保留期 7 天" in detail
    assert client.get("/portal/kb/").status_code in (302, 200)


def test_suggestions_from_the_ticket_title(login, acme_user, articles):
    html = login(acme_user).get("/portal/kb/suggest/", {"title": "RDS 备份"}).content.decode()
    assert "RDS 自动备份设置" in html
    assert (
        login(acme_user).get("/portal/kb/suggest/", {"title": "x"}).content.decode().strip() == ""
    )
    form = login(acme_user).get("/portal/tickets/new/").content.decode()
    assert 'hx-get="/portal/kb/suggest/"' in form


def test_markdown_is_sanitised(login, acme_user, engineer):
    article = Article.objects.create(
        title="x",
        body="**bold** <script>alert(1)</script> [a](javascript:alert(2))",
        visibility="public",
        is_published=True,
    )
    html = login(acme_user).get(f"/portal/kb/{article.pk}/").content.decode()
    assert (
        "<strong>bold</strong>" in html
        and "<script>alert" not in html
        and "javascript:" not in html
    )


def test_article_from_a_resolved_ticket(login, engineer, acme, acme_user, auditor):
    ticket = services.ticket_create(
        customer=acme,
        requester=acme_user,
        title="S3 403 on upload",
        description="403 since 9:00",
        actor=acme_user,
    )
    services.comment_add(ticket=ticket, author=engineer, body="The bucket policy denied PutObject.")
    services.ticket_change_status(ticket=ticket, status=Status.RESOLVED, actor=engineer)
    client = login(engineer)
    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "Write up in the knowledge base" in page
    url = f"/admin/tickets/ticket/{ticket.pk}/write-up/"
    assert client.get(url).status_code == 200
    response = client.post(url)
    article = Article.objects.get()
    assert response["Location"] == f"/admin/tickets/article/{article.pk}/change/"
    assert (
        article.source_ticket == ticket
        and not article.is_published
        and article.visibility == "internal"
    )
    assert "bucket policy denied" in article.body
    assert login(auditor).post(url).status_code == 403


def test_kb_evidence(login, auditor, articles):
    page = login(auditor).get("/audit/SPT-004/").content.decode()
    assert "Public knowledge-base articles" in page
