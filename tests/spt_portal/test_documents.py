"""The Document Center: live values, stable anchors, versions, sanitising, access."""

import pytest

from sla.services import sla_policy_create
from spt_portal import documents
from spt_portal.models import DocumentVersion

pytestmark = pytest.mark.django_db(transaction=True)

SLUGS = ["SLA-POLICY", "CUSTOMER-SERVICE-CONTRACT-TEMPLATE", "INCIDENT-RESPONSE"]


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_document_renders_in_both_languages(login, acme_user, slug, language):
    acme_user.preferred_language = language
    acme_user.save()
    page = login(acme_user).get(f"/docs/{slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "{{" not in html  # every placeholder filled
    assert 'data-testid="toc"' in html


def test_sla_policy_chapters_have_stable_anchors_and_live_values(login, acme_user):
    html = login(acme_user).get("/docs/SLA-POLICY/").content.decode()
    for anchor in (
        "response-times",
        "ticket-flow",
        "escalation",
        "aws-support-cases",
        "aws-health-events",
        "notifications",
        "availability",
        "reporting",
        "violations",
        "mappings",
        "contacts",
    ):
        assert f'id="{anchor}"' in html, anchor
    assert "15 minutes" in html and "72 hours" in html
    assert "support@partner.example" in html and "every 10 minutes" in html
    zh = login(acme_user).get("/docs/SLA-POLICY/", headers={"Accept-Language": "zh-hans"})
    assert zh.status_code == 200


def test_changing_the_sla_changes_the_document_and_records_a_version(login, acme_user, manager):
    client = login(acme_user)
    client.get("/docs/SLA-POLICY/")
    first = DocumentVersion.objects.get(slug="SLA-POLICY")
    sla_policy_create(
        targets={
            "critical": (10, 180),
            "high": (60, 480),
            "medium": (240, 1440),
            "low": (1440, 4320),
        },
        descriptions={p: ("d", "描述") for p in ("critical", "high", "medium", "low")},
        actor=manager,
    )
    latest = DocumentVersion.objects.filter(slug="SLA-POLICY").order_by("-number").first()
    assert latest.number == first.number + 1 and latest.created_by == manager
    changed = {c["field"]: (c["old"], c["new"]) for c in latest.changes}
    assert changed["sla.critical.response"] == ("15 minutes", "10 minutes")
    html = client.get("/docs/SLA-POLICY/").content.decode()
    assert "≤ 10 minutes" in html and "≤ 15 minutes" not in html
    assert "sla.critical.response" in html  # the version history says what changed
    # Reading it again, in another language too, records nothing new.
    client.get("/docs/SLA-POLICY/", headers={"Accept-Language": "zh-hans"})
    assert DocumentVersion.objects.filter(slug="SLA-POLICY").count() == latest.number


def test_sanitised_and_print_view(login, acme_user, tmp_path, monkeypatch):
    (tmp_path / "SLA-POLICY.en.md").write_text(
        "# T\n\n## A {#a}\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n"
    )
    monkeypatch.setattr(documents, "POLICY_DIR", tmp_path)
    html = documents.render("SLA-POLICY", "en").html
    assert "<script" not in html and "javascript:" not in html
    page = login(acme_user).get("/docs/SLA-POLICY/print/").content.decode()
    assert "<nav" not in page and "Version" in page


def test_access(client, login, acme_user):
    assert client.get("/docs/SLA-POLICY/").status_code == 302
    assert login(acme_user).get("/docs/").status_code == 200
    assert login(acme_user).get("/docs/NOPE/").status_code == 404


def test_sla_page_links_to_the_policy_chapters(login, acme_user):
    html = login(acme_user).get("/sla/").content.decode()
    assert "/docs/SLA-POLICY/#response-times" in html and "/docs/SLA-POLICY/#ticket-flow" in html
