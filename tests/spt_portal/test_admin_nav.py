"""The admin's app list is written by a tag (spt_portal/templatetags/admin_nav.py): it
must be exactly the markup of Django's own admin/app_list.html, for every role, in both
languages, in the sidebar (no change links) and on the index (change links)."""

import re
from pathlib import Path

import django.contrib.admin
import pytest
from django.contrib import admin
from django.template import Context, RequestContext, engines
from django.test import RequestFactory
from django.utils import translation

pytestmark = pytest.mark.django_db

DJANGO_TEMPLATE = Path(django.contrib.admin.__file__).parent / "templates/admin/app_list.html"


def _squeeze(html: str) -> str:
    # Whitespace around tags differs (Django's template is indented); nothing else.
    return re.sub(r"\s+<", "<", re.sub(r">\s+", ">", html)).strip()


def _render_both(user, path: str, show_changelinks: bool, language: str):
    engine = engines["django"].engine
    request = RequestFactory().get(path)
    request.user = user
    with translation.override(language):
        apps = admin.site.get_app_list(request)
        values = {"app_list": apps, "show_changelinks": show_changelinks}
        django_html = engine.from_string(DJANGO_TEMPLATE.read_text()).render(
            RequestContext(request, values)
        )
        ours = engine.get_template("admin/app_list.html").render(RequestContext(request, values))
    return ours, django_html


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("show_changelinks", [True, False])
@pytest.mark.parametrize("role", ["engineer", "manager", "auditor"])
def test_app_list_is_djangos_markup(request, role, show_changelinks, language):
    user = request.getfixturevalue(role)
    ours, django_html = _render_both(user, "/admin/tickets/ticket/", show_changelinks, language)
    assert _squeeze(ours) == _squeeze(django_html)
    assert 'aria-current="page"' in ours and "current-app" in ours


def test_app_list_escapes_and_says_when_there_is_nothing(engineer):
    engine = engines["django"].engine
    request = RequestFactory().get("/admin/")
    app = {
        "app_label": "x",
        "app_url": "/admin/x/",
        "name": "<b>App</b>",
        "models": [
            {"object_name": "Thing", "name": "<i>Thing</i>", "admin_url": None, "add_url": None}
        ],
    }
    ours = engine.get_template("admin/app_list.html").render(
        RequestContext(request, {"app_list": [app], "show_changelinks": True})
    )
    django_html = engine.from_string(DJANGO_TEMPLATE.read_text()).render(
        RequestContext(request, {"app_list": [app], "show_changelinks": True})
    )
    assert _squeeze(ours) == _squeeze(django_html)
    assert "<b>" not in ours and "<i>" not in ours
    empty = engine.get_template("admin/app_list.html").render(Context({"app_list": []}))
    assert "permission to view or edit anything" in empty


def test_admin_pages_show_the_sidebar(login, engineer):
    page = login(engineer).get("/admin/tickets/ticket/").content.decode()
    assert 'id="nav-sidebar"' in page
    assert '<tr class="model-ticket current-model">' in page
    index = login(engineer).get("/admin/").content.decode()
    assert 'class="changelink"' in index or 'class="viewlink"' in index


def _as_text(app_dict):
    return {
        label: {
            **app,
            "name": str(app["name"]),
            "models": [{**m, "name": str(m["name"])} for m in app["models"]],
        }
        for label, app in app_dict.items()
    }


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("role", ["engineer", "manager", "auditor", "superuser"])
def test_the_kept_app_list_is_what_django_builds(request, role, language):
    """spt_portal/admin_site.py keeps the app list per permissions, roles and language: for
    every role and language (another language kept first), it is Django's."""
    from tests.factories import StaffUserFactory

    if role == "superuser":
        user = StaffUserFactory(email="root@partner.example", is_superuser=True)
    else:
        user = request.getfixturevalue(role)
    other = "zh-hans" if language == "en" else "en"
    with translation.override(other):
        admin.site.get_app_list(_request(user))  # kept while the other language is active
    with translation.override(language):
        ours = admin.site.get_app_list(_request(user))
        django_list = admin.AdminSite.get_app_list(admin.site, _request(user))
        assert [_as_text({a["app_label"]: a for a in ours})] == [
            _as_text({a["app_label"]: a for a in django_list})
        ]
        assert [str(a["name"]) for a in ours] == [str(a["name"]) for a in django_list]


def test_new_rights_show_on_the_next_page(engineer, django_assert_max_num_queries):
    from spt_portal.models import User
    from spt_portal.roles import Role

    def rule_perms(user):
        apps = {a["app_label"]: a for a in admin.site.get_app_list(_request(user))}
        rules = [m for m in apps["incidents"]["models"] if m["object_name"] == "Rule"]
        return rules[0]["perms"] if rules else None

    assert not (rule_perms(engineer) or {}).get("add")  # managers write rules
    fresh = User.objects.get(pk=engineer.pk)
    with django_assert_max_num_queries(3):  # permissions and roles, nothing per model
        admin.site.get_app_list(_request(fresh))
    from django.contrib.auth.models import Group

    engineer.groups.add(Group.objects.get(name=Role.MANAGER))
    assert rule_perms(User.objects.get(pk=engineer.pk))["add"]


def test_each_page_gets_its_own_app_list(engineer):
    first = admin.site.get_app_list(_request(engineer))
    first[0]["models"].clear()
    first[0]["name"] = "changed"
    again = admin.site.get_app_list(_request(engineer))
    assert again[0]["models"] and again[0]["name"] != "changed"
