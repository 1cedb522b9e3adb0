import pytest
from django.urls import reverse

from spt_portal import access
from tests.factories import AWSAccountFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "user_fixture, target",
    [
        ("acme_user", "/portal/"),
        ("engineer", "/admin/"),
        ("manager", "/admin/"),
        ("auditor", "/audit/"),
    ],
)
def test_home_sends_each_role_to_its_place(request, login, user_fixture, target):
    client = login(request.getfixturevalue(user_fixture))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == target


def test_anonymous_home_goes_to_login(client):
    response = client.get("/")
    assert response["Location"] == reverse("login")


def test_customer_cannot_open_the_admin(login, acme_user):
    client = login(acme_user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get("/admin/spt_portal/customer/").status_code == 302


def test_customer_cannot_open_the_audit_pages(login, acme_user):
    assert login(acme_user).get("/audit/").status_code == 403


def test_staff_cannot_use_the_customer_portal(login, engineer):
    assert login(engineer).get("/portal/").status_code == 403


def test_customer_sees_only_own_organisation(login, acme, globex, acme_user):
    AWSAccountFactory(customer=acme, account_id="123456789012", name="acme-prod")
    AWSAccountFactory(customer=globex, account_id="444455556666", name="globex-main")

    page = login(acme_user).get("/portal/organisation/").content.decode()
    assert "123456789012" in page
    assert "444455556666" not in page
    assert "globex-main" not in page

    assert list(access.customers_visible_to(user=acme_user)) == [acme]
    visible = access.aws_accounts_visible_to(user=acme_user)
    assert {a.account_id for a in visible} == {"123456789012"}


def test_staff_sees_every_customer(engineer, acme, globex):
    assert set(access.customers_visible_to(user=engineer)) == {acme, globex}


def test_inactive_customer_user_sees_nothing(acme_user):
    acme_user.is_active = False
    assert not access.customers_visible_to(user=acme_user).exists()


def test_auditor_reads_the_admin_but_cannot_write(login, auditor, acme):
    client = login(auditor)
    assert client.get("/admin/").status_code == 200
    change_url = reverse("admin:spt_portal_customer_change", args=[acme.pk])
    assert client.get(change_url).status_code == 200
    response = client.post(change_url, {"name": "Renamed", "short_code": "ACME"})
    assert response.status_code == 403
    acme.refresh_from_db()
    assert acme.name == "Acme"
    assert client.get(reverse("admin:spt_portal_customer_add")).status_code == 403


def test_auditor_cannot_touch_the_job_queues(login, auditor):
    client = login(auditor)
    assert client.get(reverse("admin:django_rq_home")).status_code == 200
    response = client.post(reverse("admin:django_rq_clear", args=[0]))
    assert response.status_code == 403


def test_auditor_may_still_sign_out_and_switch_language(login, auditor):
    client = login(auditor)
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/audit/"})
    assert response.status_code == 302
    auditor.refresh_from_db()
    assert auditor.preferred_language == "zh-hans"
    assert client.post(reverse("logout")).status_code == 302


def test_engineer_can_edit_in_the_admin_but_not_customers(login, engineer, acme):
    client = login(engineer)
    change_url = reverse("admin:spt_portal_customer_change", args=[acme.pk])
    # view-only permission: the change page renders read-only and a POST is refused
    assert client.get(change_url).status_code == 200
    assert client.post(change_url, {"name": "X", "short_code": "ACME"}).status_code == 403


def test_audit_pages_list_every_spt_item(login, auditor):
    page = login(auditor).get("/audit/").content.decode()
    for code in ("SPT-001", "SPT-002", "SPT-003", "SPT-004", "SPT-005", "SPT-006"):
        assert code in page
    item = login(auditor).get("/audit/SPT-005/")
    assert item.status_code == 200
    assert "AWS Support" in item.content.decode()
    assert login(auditor).get("/audit/SPT-999/").status_code == 404


def test_audit_pages_say_where_each_item_lives(login, auditor):
    page = login(auditor).get("/audit/SPT-001/").content.decode()
    assert "/docs/SLA-POLICY/#response-times" in page and "/sla/report/" in page
    overview = login(auditor).get("/audit/").content.decode()
    assert "/docs/SLA-POLICY/#aws-health-events" in overview


def test_evidence_pack_opens_offline(login, auditor, acme_user):
    import io
    import zipfile

    response = login(auditor).get("/audit/pack.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert names == {"index.html"} | {f"SPT-00{n}.html" for n in range(1, 7)}
    item = archive.read("SPT-001.html").decode()
    assert "Evidence generated" in item and "SLA policy in force" in item
    assert "<link" not in item and "<script" not in item  # self-contained
    assert 'href="SPT-005.html"' in archive.read("index.html").decode()
    assert login(acme_user).get("/audit/pack.zip").status_code == 403
