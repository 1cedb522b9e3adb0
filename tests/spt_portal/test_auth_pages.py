import re

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db


def test_login_page_renders_in_both_languages(client):
    english = client.get("/accounts/login/", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    assert "Sign in" in english.content.decode()
    chinese = client.get("/accounts/login/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "登录" in chinese.content.decode()
    assert '<html lang="zh-hans">' in chinese.content.decode()


def test_wrong_password_is_a_form_error(client, acme_user):
    response = client.post("/accounts/login/", {"username": acme_user.email, "password": "wrong"})
    assert response.status_code == 200
    assert "correct email address and password" in response.content.decode()


def test_password_reset_by_email(client, acme_user):
    response = client.post("/accounts/password_reset/", {"email": acme_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-much-better-pass-2026", "new_password2": "a-much-better-pass-2026"},
    )
    assert done.status_code == 302
    signed_in = client.post(
        "/accounts/login/", {"username": acme_user.email, "password": "a-much-better-pass-2026"}
    )
    assert signed_in.status_code == 302
    assert client.get("/portal/").status_code == 200


def test_reset_for_unknown_address_sends_nothing(client):
    response = client.post("/accounts/password_reset/", {"email": "nobody@nowhere.example"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_user_language_preference_applies_after_login(client, acme_user):
    acme_user.preferred_language = "zh-hans"
    acme_user.save()
    client.force_login(acme_user)
    page = client.get("/portal/").content.decode()
    assert "我的工单" in page


def test_switcher_saves_the_preference(client, acme_user):
    client.force_login(acme_user)
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/portal/"})
    assert response["Location"] == "/portal/"
    acme_user.refresh_from_db()
    assert acme_user.preferred_language == "zh-hans"


def test_switcher_rejects_foreign_redirects(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"
