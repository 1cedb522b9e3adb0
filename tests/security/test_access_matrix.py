"""The access matrix: every URL of the project, every role, the answer each role must get.

``ACCESS`` lists, for every route the URL resolver knows (pages, the REST API, webhooks,
feeds, the admin's own pages), the requests to make (with real ids from ``access_world``) and
the status each role must get. The admin's model pages (changelist, add, change, delete,
history and the bare object URL of every registered ModelAdmin) follow one generic rule
instead (``admin_expected``), so a new ModelAdmin is covered without a new line.

A route that the resolver knows and the table does not fails
``test_every_url_has_an_access_entry``: a new URL needs its access decided and written here.

Roles: anon (signed out), cust_a (a contact of Acme), cust_b (a contact of Globex), eng,
mgr, aud (the read-only auditor). Every request runs in a savepoint that is rolled back, so
one request never changes what the next one sees.
"""

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.core import mail
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from spt_portal.roles import PROJECT_APPS, Role, sync_roles
from tests.factories import CustomerFactory, CustomerUserFactory, StaffUserFactory

from .access_world import (
    DRAFT_ARTICLE,
    GLOBEX_SECRET,
    INTERNAL_ARTICLE,
    INTERNAL_NOTE,
    ROLES,
    build_world,
)

pytestmark = pytest.mark.django_db


# --- expectations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """A 302 whose Location is ``to`` (or starts with it, when ``prefix``)."""

    to: str
    prefix: bool = False

    def matches(self, response) -> bool:
        location = response.get("Location", "")
        if response.status_code != 302:
            return False
        return location.startswith(self.to) if self.prefix else location == self.to

    def __str__(self):
        return f"302 -> {self.to}{'…' if self.prefix else ''}"


LOGIN = Redirect("/accounts/login/?next=", prefix=True)
ADMIN_LOGIN = Redirect("/admin/login/?next=", prefix=True)


def per_role(anon, cust_a, cust_b, eng, mgr, aud) -> dict:
    return dict(zip(ROLES, (anon, cust_a, cust_b, eng, mgr, aud), strict=True))


def every(status) -> dict:
    return per_role(*(status,) * len(ROLES))


PUBLIC = every(200)
POST_ONLY = every(405)  # require_POST outermost: a GET is refused before anything else
SIGNED_IN = per_role(LOGIN, 200, 200, 200, 200, 200)
STAFF = per_role(LOGIN, 403, 403, 200, 200, 200)
WORKER = per_role(LOGIN, 403, 403, 200, 200, 403)  # engineers and managers; auditors read only
CUSTOMERS = per_role(LOGIN, 200, 200, 403, 403, 403)
ACME_ONLY = per_role(LOGIN, 200, 404, 403, 403, 403)  # Acme's object; Globex must not learn of it
MANAGER_OR_AUDITOR = per_role(LOGIN, 403, 403, 403, 200, 200)
ADMIN_STAFF = per_role(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 200, 200)
ADMIN_WORKER = per_role(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 200, 403)
ADMIN_NOT_FOUND = per_role(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404, 404, 404)
API_SIGNED_IN = per_role(401, 200, 200, 200, 200, 200)
API_STAFF = per_role(401, 403, 403, 200, 200, 200)


def staff_writes(ok=302) -> dict:
    """An HTML form that writes: engineers and managers only."""
    return per_role(LOGIN, 403, 403, ok, ok, 403)


def customer_writes(ok=302, globex=None) -> dict:
    """A portal form that writes: customers only; ``globex`` is what Globex's contact gets."""
    return per_role(LOGIN, ok, ok if globex is None else globex, 403, 403, 403)


def api_writes(ok) -> dict:
    return per_role(401, 403, 403, ok, ok, 403)


def admin_writes(ok=302) -> dict:
    return per_role(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ok, ok, 403)


@dataclass
class Check:
    """One request and the answer each role must get (a role left out is not asked)."""

    method: str
    url: Callable | str  # built from the world: real ids
    expect: dict
    data: Callable | None = None
    api: bool = False  # bearer token of the role, JSON body
    json: bool = False  # JSON body without a token (webhooks)
    headers: Callable | None = None
    fresh_client: bool = False  # the request changes the session (logout, language)
    writes: bool | None = None  # an unsafe request the auditor must be refused
    changes: bool | None = None  # the request writes when allowed (proved by writer_role)
    writer: str | None = None
    unchanged: tuple = ()  # roles let in whose request must still write nothing

    def __post_init__(self):
        if self.writes is None:
            self.writes = self.method != "get"
        if self.changes is None:
            self.changes = self.writes

    def url_for(self, w) -> str:
        return self.url(w) if callable(self.url) else self.url

    def writer_role(self) -> str | None:
        """Who proves the request writes: the given role, else the first one allowed."""
        if self.writer:
            return self.writer
        for role in ("eng", "mgr", "cust_a", "anon"):
            expected = self.expect.get(role)
            if isinstance(expected, int) and expected < 400:
                return role
            if isinstance(expected, Redirect) and expected not in (LOGIN, ADMIN_LOGIN):
                return role
        return None


def get(url, expect, **kwargs) -> Check:
    return Check("get", url, expect, **kwargs)


def post(url, expect, data=None, **kwargs) -> Check:
    return Check("post", url, expect, data=data, **kwargs)


def api_get(url, expect, **kwargs) -> Check:
    return Check("get", url, expect, api=True, **kwargs)


def api_call(method, url, expect, data=None, **kwargs) -> Check:
    return Check(method, url, expect, data=data, api=True, **kwargs)


# --- the table ----------------------------------------------------------------------------


def _ticket(w):
    return f"/portal/tickets/{w.acme_ticket.number}/"


def _incident(w):
    return f"/ops/incidents/{w.open_incident.pk}/"


def _pm(w):
    return f"/ops/postmortems/{w.postmortem.pk}/"


def _api_pm(w):
    return f"/api/v1/postmortems/{w.postmortem.pk}"


def _postmortem_form(w):
    pm = w.postmortem
    fields = {name: getattr(pm, name) for name in w.postmortem_fields}
    data = {k: ("" if v is None else v) for k, v in fields.items()}
    return {**data, "summary": "Edited summary", "version": pm.version}


def _bearer(token_attr):
    return lambda w: {"HTTP_AUTHORIZATION": f"Bearer {getattr(w, token_attr)}"}


ALERTMANAGER_BODY = {
    "version": "4",
    "status": "firing",
    "receiver": "spt",
    "groupKey": '{}:{alertname="DiskFull"}',
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "severity": "warning", "service": "db"},
            "annotations": {"summary": "disk 95%"},
            "startsAt": "2026-11-30T02:00:00Z",
            "fingerprint": "0123456789abcdef",
        }
    ],
}
GENERIC_ALERT = {"title": "Queue backlog", "level": "warning", "labels": {"service": "queue"}}
WINDOW = {"start_time": "2026-01-01T00:00:00Z", "end_time": "2027-01-01T00:00:00Z"}

ACCESS: dict[str, list[Check]] = {
    # --- core ---------------------------------------------------------------------------
    "": [
        get(
            "/",
            per_role(
                Redirect("/accounts/login/"),
                Redirect("/portal/"),
                Redirect("/portal/"),
                Redirect("/admin/"),
                Redirect("/admin/"),
                Redirect("/audit/"),
            ),
        )
    ],
    # Load balancers and monitoring read these without signing in; they hold no secrets.
    "healthz": [get("/healthz", PUBLIC)],
    "health": [get("/health", PUBLIC)],
    "readyz": [get("/readyz", PUBLIC)],
    # METRICS_BEARER_TOKEN is set by the tests: only the scraper's token opens it, whoever
    # is signed in.
    "metrics": [
        get("/metrics", every(401)),
        get("/metrics", PUBLIC, headers=lambda w: {"HTTP_AUTHORIZATION": "Bearer scrape-me"}),
    ],
    "i18n/setlang/": [
        get("/i18n/setlang/", POST_ONLY),
        # Everybody may switch language, the auditor too (an allowed write of their own).
        post(
            "/i18n/setlang/",
            every(Redirect("/")),
            data=lambda w: {"language": "zh-hans", "next": "/"},
            fresh_client=True,
            writes=False,
        ),
    ],
    "accounts/login/": [
        get("/accounts/login/", per_role(200, *(Redirect("/"),) * 5)),
    ],
    "accounts/logout/": [
        get("/accounts/logout/", POST_ONLY),
        post(
            "/accounts/logout/",
            every(Redirect("/accounts/login/")),
            fresh_client=True,
            writes=False,
        ),
    ],
    "accounts/password_change/": [get("/accounts/password_change/", SIGNED_IN)],
    "accounts/password_change/done/": [get("/accounts/password_change/done/", SIGNED_IN)],
    "accounts/password_reset/": [
        get("/accounts/password_reset/", PUBLIC),
        # Sends a reset email (no database change); refused to a signed-in auditor like any
        # other unsafe request.
        post(
            "/accounts/password_reset/",
            per_role(*(Redirect("/accounts/password_reset/done/"),) * 5, 403),
            data=lambda w: {"email": "alice@acme.example"},
            changes=False,
            writer="anon",
        ),
    ],
    "accounts/password_reset/done/": [get("/accounts/password_reset/done/", PUBLIC)],
    # An invalid link shows "this link is invalid" to anybody.
    "accounts/reset/<uidb64>/<token>/": [get("/accounts/reset/MQ/bad-token/", PUBLIC)],
    "accounts/reset/done/": [get("/accounts/reset/done/", PUBLIC)],
    # --- audit (all staff read it; auditors are its audience) ----------------------------
    "audit/": [get("/audit/", STAFF)],
    "audit/pack.zip": [get("/audit/pack.zip", STAFF)],
    "audit/<str:code>/": [
        get("/audit/SPT-001/", STAFF),
        get("/audit/SPT-999/", per_role(LOGIN, 403, 403, 404, 404, 404)),
    ],
    # --- documents (contract and policies: every signed-in user reads them) --------------
    "docs/": [get("/docs/", SIGNED_IN)],
    "docs/<slug:slug>/": [
        get("/docs/SLA-POLICY/", SIGNED_IN),
        get("/docs/NO-SUCH-DOC/", per_role(LOGIN, 404, 404, 404, 404, 404)),
    ],
    "docs/<slug:slug>/print/": [get("/docs/SLA-POLICY/print/", SIGNED_IN)],
    # --- customer portal ----------------------------------------------------------------
    "portal/": [get("/portal/", CUSTOMERS)],
    "portal/organisation/": [get("/portal/organisation/", CUSTOMERS)],
    "portal/tickets/new/": [
        get("/portal/tickets/new/", CUSTOMERS),
        post(
            "/portal/tickets/new/",
            customer_writes(),
            data=lambda w: {
                "title": "New from the portal",
                "description": "Since noon",
                "priority": "medium",
            },
        ),
    ],
    "portal/tickets/<str:number>/": [
        get(_ticket, ACME_ONLY),
        post(_ticket, customer_writes(globex=404), data=lambda w: {"body": "More details"}),
    ],
    "portal/tickets/<str:number>/confirm/": [
        # customer_required is outermost: the signed-out and staff never reach require_POST.
        get(
            lambda w: f"/portal/tickets/{w.acme_resolved.number}/confirm/",
            per_role(LOGIN, 405, 405, 403, 403, 403),
        ),
        post(
            lambda w: f"/portal/tickets/{w.acme_resolved.number}/confirm/",
            customer_writes(globex=404),
        ),
    ],
    "portal/tickets/<str:number>/reopen/": [
        get(
            lambda w: f"/portal/tickets/{w.acme_resolved.number}/reopen/",
            per_role(LOGIN, 405, 405, 403, 403, 403),
        ),
        post(
            lambda w: f"/portal/tickets/{w.acme_resolved.number}/reopen/",
            customer_writes(globex=404),
            data=lambda w: {"reason": "Still broken"},
        ),
    ],
    # Signed-out visitors get a 404, not the sign-in page: a download link tells nothing.
    "portal/attachments/<int:pk>/": [
        get(
            lambda w: f"/portal/attachments/{w.acme_attachment.pk}/",
            per_role(404, 200, 404, 200, 200, 200),
        ),
        get(
            lambda w: f"/portal/attachments/{w.note_attachment.pk}/",
            per_role(404, 404, 404, 200, 200, 200),
        ),
    ],
    "portal/kb/": [get("/portal/kb/?q=RDS", SIGNED_IN)],
    "portal/kb/suggest/": [get("/portal/kb/suggest/?title=RDS+failover", SIGNED_IN)],
    "portal/kb/<int:pk>/": [
        get(lambda w: f"/portal/kb/{w.public_article.pk}/", SIGNED_IN),
        get(
            lambda w: f"/portal/kb/{w.internal_article.pk}/",
            per_role(LOGIN, 404, 404, 200, 200, 200),
        ),
        get(
            lambda w: f"/portal/kb/{w.draft_article.pk}/",
            per_role(LOGIN, 404, 404, 200, 200, 200),
        ),
    ],
    "portal/incidents/<str:number>/": [
        get(lambda w: f"/portal/incidents/{w.incident.number}/", ACME_ONLY),
    ],
    # --- SLA ----------------------------------------------------------------------------
    "sla/": [get("/sla/", SIGNED_IN)],
    "sla/report/": [get("/sla/report/", MANAGER_OR_AUDITOR)],
    "sla/report.csv": [get("/sla/report.csv", MANAGER_OR_AUDITOR)],
    "ops/oncall/": [get("/ops/oncall/", STAFF)],
    # Calendar apps cannot sign in: the signed token is the key; a bad one is a 404.
    "oncall/ical/<str:token>.ics": [
        get(lambda w: f"/oncall/ical/{w.ical_token}.ics", PUBLIC),
        get("/oncall/ical/not-a-token.ics", every(404)),
    ],
    "support/contact": [get("/support/contact", PUBLIC)],
    # --- incidents ----------------------------------------------------------------------
    "ops/alerts/": [get("/ops/alerts/", STAFF)],
    "ops/alerts/action/": [
        get("/ops/alerts/action/", POST_ONLY),
        post(
            "/ops/alerts/action/",
            staff_writes(),
            data=lambda w: {"action": "acknowledge", "alert": [w.alert.pk]},
        ),
    ],
    "ops/incidents/": [get("/ops/incidents/", STAFF)],
    "ops/incidents/new/": [
        get("/ops/incidents/new/", WORKER),
        post(
            "/ops/incidents/new/",
            staff_writes(),
            data=lambda w: {"title": "Queue stuck", "level": "P3"},
        ),
    ],
    "ops/incidents/metrics/": [get("/ops/incidents/metrics/", STAFF)],
    "ops/incidents/contacts/": [get("/ops/incidents/contacts/", STAFF)],
    "ops/incidents/<int:pk>/": [
        get(_incident, STAFF),
        get("/ops/incidents/999999/", per_role(LOGIN, 403, 403, 404, 404, 404)),
    ],
    "ops/incidents/<int:pk>/status/": [
        get(lambda w: _incident(w) + "status/", POST_ONLY),
        post(
            lambda w: _incident(w) + "status/",
            staff_writes(),
            data=lambda w: {"status": "in_progress"},
        ),
    ],
    "ops/incidents/<int:pk>/acknowledge/": [
        get(lambda w: _incident(w) + "acknowledge/", POST_ONLY),
        post(lambda w: _incident(w) + "acknowledge/", staff_writes()),
    ],
    "ops/incidents/<int:pk>/level/": [
        get(lambda w: _incident(w) + "level/", POST_ONLY),
        post(
            lambda w: _incident(w) + "level/",
            staff_writes(),
            data=lambda w: {"level": "P2", "reason": "wider impact"},
        ),
    ],
    "ops/incidents/<int:pk>/role/": [
        get(lambda w: _incident(w) + "role/", POST_ONLY),
        post(
            lambda w: _incident(w) + "role/",
            staff_writes(),
            data=lambda w: {"role": "commander", "user": w.users["mgr"].pk},
        ),
    ],
    "ops/incidents/<int:pk>/note/": [
        get(lambda w: _incident(w) + "note/", POST_ONLY),
        post(lambda w: _incident(w) + "note/", staff_writes(), data=lambda w: {"text": "Looking"}),
    ],
    "ops/incidents/<int:pk>/timeline/<int:entry_id>/pin/": [
        get(lambda w: f"{_incident(w)}timeline/{w.open_entry.pk}/pin/", POST_ONLY),
        post(lambda w: f"{_incident(w)}timeline/{w.open_entry.pk}/pin/", staff_writes()),
    ],
    "ops/incidents/<int:pk>/details/": [
        get(lambda w: _incident(w) + "details/", POST_ONLY),
        post(
            lambda w: _incident(w) + "details/",
            staff_writes(),
            data=lambda w: {"title": "Queue backlog (renamed)", "severity": "high"},
        ),
    ],
    "ops/incidents/<int:pk>/tickets/": [
        get(lambda w: _incident(w) + "tickets/", POST_ONLY),
        post(
            lambda w: _incident(w) + "tickets/",
            staff_writes(),
            data=lambda w: {"number": w.acme_ticket.number},
        ),
    ],
    "ops/incidents/<int:pk>/emergency/": [
        get(lambda w: _incident(w) + "emergency/", POST_ONLY),
        post(lambda w: _incident(w) + "emergency/", staff_writes()),
    ],
    "ops/incidents/<int:pk>/escalate/": [
        get(lambda w: _incident(w) + "escalate/", POST_ONLY),
        post(
            lambda w: _incident(w) + "escalate/",
            staff_writes(),
            data=lambda w: {"level": 2, "reason": "no answer"},
        ),
    ],
    "ops/incidents/<int:pk>/communicate/": [
        get(lambda w: _incident(w) + "communicate/", WORKER),
        post(
            lambda w: _incident(w) + "communicate/",
            staff_writes(),
            data=lambda w: {
                "kind": "update",
                "audience": "internal",
                "subject": "Update",
                "body": "Still working on it.",
            },
        ),
    ],
    "ops/incidents/<int:pk>/prometheus/": [
        get(lambda w: _incident(w) + "prometheus/", POST_ONLY),
        # Prometheus is not configured in tests: the engineer's request is let through and
        # collects nothing.
        post(lambda w: _incident(w) + "prometheus/", staff_writes(), changes=False),
    ],
    # The signed link is the key (engineers open it from an email without signing in).
    "pages/ack/<str:token>/": [
        get(lambda w: f"/pages/ack/{w.ack_token}/", PUBLIC),
        get("/pages/ack/forged/", every(404)),
        post(
            lambda w: f"/pages/ack/{w.ack_token}/",
            per_role(200, 200, 200, 200, 200, 403),
            writer="anon",
        ),
    ],
    # Machines post alerts with the integration's token; without it, 401 for anybody (the
    # auditor's session is refused before: read-only).
    "hooks/alertmanager/": [
        get("/hooks/alertmanager/", POST_ONLY),
        post(
            "/hooks/alertmanager/",
            per_role(401, 401, 401, 401, 401, 403),
            data=lambda w: ALERTMANAGER_BODY,
            json=True,
            changes=False,
        ),
        post(
            "/hooks/alertmanager/",
            {"anon": 202},
            data=lambda w: ALERTMANAGER_BODY,
            json=True,
            headers=_bearer("integration_token"),
            writer="anon",
        ),
    ],
    "hooks/grafana/": [
        get("/hooks/grafana/", POST_ONLY),
        post(
            "/hooks/grafana/",
            per_role(401, 401, 401, 401, 401, 403),
            data=lambda w: ALERTMANAGER_BODY,
            json=True,
            changes=False,
        ),
    ],
    "hooks/alerts/": [
        get("/hooks/alerts/", POST_ONLY),
        post(
            "/hooks/alerts/",
            per_role(401, 401, 401, 401, 401, 403),
            data=lambda w: GENERIC_ALERT,
            json=True,
            changes=False,
        ),
    ],
    # SNS messages are signed; an unsigned one is refused whoever sends it.
    "hooks/ses/": [
        get("/hooks/ses/", POST_ONLY),
        post(
            "/hooks/ses/",
            every(403),
            data=lambda w: {"Type": "Notification", "Message": "{}"},
            json=True,
            changes=False,
        ),
    ],
    # --- postmortems (auditors read published ones only) ---------------------------------
    "ops/postmortems/": [get("/ops/postmortems/", STAFF)],
    "ops/postmortems/metrics/": [get("/ops/postmortems/metrics/", STAFF)],
    "ops/incidents/<int:incident_pk>/postmortem/": [
        get(lambda w: f"/ops/incidents/{w.incident_without_pm.pk}/postmortem/", POST_ONLY),
        post(lambda w: f"/ops/incidents/{w.incident_without_pm.pk}/postmortem/", staff_writes()),
    ],
    "ops/postmortems/<int:pk>/": [
        get(_pm, per_role(LOGIN, 403, 403, 200, 200, 404)),
        get(lambda w: f"/ops/postmortems/{w.published_postmortem.pk}/", STAFF),
        post(_pm, staff_writes(), data=_postmortem_form),
    ],
    "ops/postmortems/<int:pk>/autosave/": [
        get(lambda w: _pm(w) + "autosave/", POST_ONLY),
        post(
            lambda w: _pm(w) + "autosave/",
            staff_writes(200),
            data=lambda w: {"version": w.postmortem.version, "lessons": "Autosaved"},
        ),
    ],
    "ops/postmortems/<int:pk>/print/": [
        get(lambda w: _pm(w) + "print/", per_role(LOGIN, 403, 403, 200, 200, 404)),
        get(lambda w: f"/ops/postmortems/{w.published_postmortem.pk}/print/", STAFF),
    ],
    "ops/postmortems/<int:pk>/status/": [
        get(lambda w: _pm(w) + "status/", POST_ONLY),
        post(lambda w: _pm(w) + "status/", staff_writes(), data=lambda w: {"status": "in_review"}),
        # Only a manager approves: the engineer is sent back with the reason, nothing moves.
        post(
            lambda w: f"/ops/postmortems/{w.postmortem_in_review.pk}/status/",
            staff_writes(),
            data=lambda w: {"status": "approved"},
            writer="mgr",
            unchanged=("eng",),
        ),
    ],
    "ops/postmortems/<int:pk>/meeting/": [
        get(lambda w: _pm(w) + "meeting/", POST_ONLY),
        post(
            lambda w: _pm(w) + "meeting/",
            staff_writes(),
            data=lambda w: {
                "meeting_at": timezone.localtime(
                    w.incident.recovered_at + timedelta(hours=30)
                ).strftime("%Y-%m-%dT%H:%M")
            },
        ),
    ],
    "ops/postmortems/<int:pk>/participants/": [
        get(lambda w: _pm(w) + "participants/", POST_ONLY),
        post(
            lambda w: _pm(w) + "participants/",
            staff_writes(),
            data=lambda w: {"participants": [w.users["mgr"].pk]},
        ),
    ],
    "ops/postmortems/<int:pk>/comments/": [
        get(lambda w: _pm(w) + "comments/", POST_ONLY),
        post(lambda w: _pm(w) + "comments/", staff_writes(), data=lambda w: {"body": "Agreed"}),
    ],
    "ops/postmortems/<int:pk>/actions/": [
        get(lambda w: _pm(w) + "actions/", POST_ONLY),
        post(
            lambda w: _pm(w) + "actions/",
            staff_writes(),
            data=lambda w: {"title": "Add an alert", "priority": "P2"},
        ),
    ],
    "ops/postmortems/<int:pk>/actions/<int:item_id>/": [
        get(lambda w: f"{_pm(w)}actions/{w.action_item.pk}/", POST_ONLY),
        post(
            lambda w: f"{_pm(w)}actions/{w.action_item.pk}/",
            staff_writes(),
            data=lambda w: {
                f"item{w.action_item.pk}-priority": "P2",
                f"item{w.action_item.pk}-status": "in_progress",
            },
        ),
    ],
    # --- REST API -----------------------------------------------------------------------
    # The API's description is public, as its interactive docs are; data needs a token.
    "api/v1/openapi.json": [get("/api/v1/openapi.json", PUBLIC)],
    "api/v1/docs": [get("/api/v1/docs", PUBLIC)],
    "api/v1/": [get("/api/v1/", every(404))],
    "api/v1/tickets": [
        api_get("/api/v1/tickets", API_SIGNED_IN),
        api_call(
            "post",
            "/api/v1/tickets",
            per_role(401, 201, 201, 201, 201, 403),
            data=lambda w: {"title": "Filed through the API"},
        ),
    ],
    "api/v1/tickets/<number>": [
        api_get(
            lambda w: f"/api/v1/tickets/{w.acme_ticket.number}",
            per_role(401, 200, 404, 200, 200, 200),
        ),
    ],
    "api/v1/tickets/<number>/comments": [
        api_get(
            lambda w: f"/api/v1/tickets/{w.acme_ticket.number}/comments",
            per_role(401, 200, 404, 200, 200, 200),
        ),
        api_call(
            "post",
            lambda w: f"/api/v1/tickets/{w.acme_ticket.number}/comments",
            per_role(401, 201, 404, 201, 201, 403),
            data=lambda w: {"body": "Through the API"},
        ),
    ],
    "api/v1/tickets/<number>/aws-case": [
        # The ticket already has its AWS case: the engineer is let in and told so (400).
        api_call(
            "post",
            lambda w: f"/api/v1/tickets/{w.acme_ticket.number}/aws-case",
            api_writes(400),
            data=lambda w: {
                "account_id": w.aws_account.account_id,
                "service_code": "amazon-rds",
                "category_code": "other",
            },
            changes=False,
        ),
    ],
    "api/v1/alerts": [
        api_get("/api/v1/alerts", API_STAFF),
        api_call("post", "/api/v1/alerts", api_writes(201), data=lambda w: GENERIC_ALERT),
    ],
    "api/v1/alerts/<alert_id>": [
        api_get(lambda w: f"/api/v1/alerts/{w.alert.pk}", API_STAFF),
    ],
    "api/v1/incidents": [
        api_get("/api/v1/incidents", API_STAFF),
        api_call(
            "post",
            "/api/v1/incidents",
            api_writes(201),
            data=lambda w: {"title": "From the API", "level": "P3"},
        ),
    ],
    "api/v1/incidents/escalate": [
        api_call(
            "post",
            "/api/v1/incidents/escalate",
            api_writes(200),
            data=lambda w: {
                "incident_id": w.open_incident.pk,
                "escalation_level": 2,
                "reason": "no answer",
            },
        ),
    ],
    # A report with a POST body (seed 002's shape): reading, so the auditor may use it.
    "api/v1/incidents/monitoring": [
        api_call(
            "post", "/api/v1/incidents/monitoring", API_STAFF, data=lambda w: WINDOW, writes=False
        ),
    ],
    "api/v1/incidents/alerts": [
        api_call(
            "post",
            "/api/v1/incidents/alerts",
            api_writes(201),
            data=lambda w: {
                "incident_id": w.open_incident.pk,
                "alert_name": "Call the DBA",
                "message": "Queue stuck",
                "recipients": ["dba@partner.example"],
            },
        ),
    ],
    "api/v1/incidents/alerts/active": [api_get("/api/v1/incidents/alerts/active", API_STAFF)],
    "api/v1/incidents/alerts/<page_id>/acknowledge": [
        api_call(
            "post", lambda w: f"/api/v1/incidents/alerts/{w.page.pk}/acknowledge", api_writes(200)
        ),
    ],
    "api/v1/incidents/alerts/<page_id>/resolve": [
        api_call(
            "post", lambda w: f"/api/v1/incidents/alerts/{w.page.pk}/resolve", api_writes(200)
        ),
    ],
    "api/v1/incidents/<incident_id>": [
        api_get(lambda w: f"/api/v1/incidents/{w.incident.pk}", API_STAFF),
        api_call(
            "put",
            lambda w: f"/api/v1/incidents/{w.open_incident.pk}",
            api_writes(200),
            data=lambda w: {"title": "Renamed through the API"},
        ),
        # Incidents are evidence: nobody deletes one (405 for those who may write).
        api_call(
            "delete",
            lambda w: f"/api/v1/incidents/{w.open_incident.pk}",
            api_writes(405),
            changes=False,
        ),
    ],
    "api/v1/incidents/<incident_id>/impact": [
        api_get(lambda w: f"/api/v1/incidents/{w.incident.pk}/impact", API_STAFF),
    ],
    "api/v1/incidents/<incident_id>/timeline": [
        api_get(lambda w: f"/api/v1/incidents/{w.incident.pk}/timeline", API_STAFF),
    ],
    "api/v1/incidents/<incident_id>/metrics/collect": [
        api_call(
            "post",
            lambda w: f"/api/v1/incidents/{w.incident.pk}/metrics/collect",
            api_writes(200),
            changes=False,  # no Prometheus in tests
        ),
    ],
    "api/v1/incidents/<incident_id>/metrics": [
        api_get(lambda w: f"/api/v1/incidents/{w.incident.pk}/metrics", API_STAFF),
    ],
    "api/v1/postmortems": [
        api_get("/api/v1/postmortems", API_STAFF),
        api_call(
            "post",
            "/api/v1/postmortems",
            api_writes(201),
            data=lambda w: {"incident_id": w.incident_without_pm.pk},
        ),
    ],
    "api/v1/postmortems/<postmortem_id>": [
        api_get(_api_pm, per_role(401, 403, 403, 200, 200, 404)),
        api_get(lambda w: f"/api/v1/postmortems/{w.published_postmortem.pk}", API_STAFF),
        api_call("put", _api_pm, api_writes(200), data=lambda w: {"lessons": "From the API"}),
    ],
    "api/v1/postmortems/<postmortem_id>/transition": [
        api_call(
            "post",
            lambda w: _api_pm(w) + "/transition",
            api_writes(200),
            data=lambda w: {"status": "in_review"},
        ),
        api_call(
            "post",
            lambda w: f"/api/v1/postmortems/{w.postmortem_in_review.pk}/transition",
            per_role(401, 403, 403, 400, 200, 403),
            data=lambda w: {"status": "approved"},
            writer="mgr",
            unchanged=("eng",),
        ),
    ],
    "api/v1/postmortems/<postmortem_id>/action-items": [
        api_call(
            "post",
            lambda w: _api_pm(w) + "/action-items",
            api_writes(201),
            data=lambda w: {"title": "Page the DBA sooner"},
        ),
    ],
    "api/v1/postmortems/<postmortem_id>/action-items/<item_id>": [
        api_call(
            "put",
            lambda w: f"{_api_pm(w)}/action-items/{w.action_item.pk}",
            api_writes(200),
            data=lambda w: {"status": "in_progress"},
        ),
    ],
    "api/v1/postmortems/<postmortem_id>/comments": [
        api_call(
            "post",
            lambda w: _api_pm(w) + "/comments",
            api_writes(201),
            data=lambda w: {"body": "Reviewed"},
        ),
    ],
    # --- the admin's own pages (model pages follow admin_expected) ------------------------
    "admin/": [get("/admin/", ADMIN_STAFF)],
    "admin/login/": [
        get("/admin/login/", per_role(200, 200, 200, *(Redirect("/admin/"),) * 3)),
    ],
    # Django's logout is POST only; the signed-out and customers are sent to the index.
    "admin/logout/": [
        get("/admin/logout/", per_role(*(Redirect("/admin/"),) * 3, 405, 405, 405)),
    ],
    "admin/password_change/": [get("/admin/password_change/", ADMIN_STAFF)],
    "admin/password_change/done/": [get("/admin/password_change/done/", ADMIN_STAFF)],
    "admin/autocomplete/": [
        get(
            "/admin/autocomplete/?app_label=tickets&model_name=ticket&field_name=customer&term=a",
            ADMIN_STAFF,
        ),
    ],
    "admin/jsi18n/": [get("/admin/jsi18n/", ADMIN_STAFF)],
    "admin/r/<path:content_type_id>/<path:object_id>/": [
        get(
            lambda w: f"/admin/r/{w.ticket_type.pk}/{w.acme_ticket.pk}/",
            per_role(
                *(ADMIN_LOGIN,) * 3,
                *(Redirect("http://testserver/portal/tickets/", prefix=True),) * 3,
            ),
        ),
    ],
    # Keyed by name: its route lists the installed apps. Every app's index is checked by
    # test_admin_model_pages; these two pin the rule down.
    "admin:app_list": [
        get("/admin/tickets/", ADMIN_STAFF),
        # No role has a permission in auth: the app's index does not exist for them.
        get("/admin/auth/", ADMIN_NOT_FOUND),
    ],
    r"admin/(?P<url>.*)$": [get("/admin/no-such-page/", ADMIN_NOT_FOUND)],
    "admin/spt_portal/user/<id>/password/": [
        get(
            lambda w: f"/admin/spt_portal/user/{w.users['cust_a'].pk}/password/",
            per_role(*(ADMIN_LOGIN,) * 3, 403, 200, 403),
        ),
    ],
    "admin/tickets/ticket/<int:ticket_id>/reply/": [
        get(
            lambda w: f"/admin/tickets/ticket/{w.acme_ticket.pk}/reply/",
            per_role(*(ADMIN_LOGIN,) * 3, 403, 403, 403),
        ),
        post(
            lambda w: f"/admin/tickets/ticket/{w.acme_ticket.pk}/reply/",
            admin_writes(),
            data=lambda w: {"body": "From the workspace", "visibility": "internal"},
        ),
    ],
    "admin/tickets/ticket/<int:ticket_id>/write-up/": [
        get(lambda w: f"/admin/tickets/ticket/{w.acme_resolved.pk}/write-up/", ADMIN_WORKER),
        post(lambda w: f"/admin/tickets/ticket/{w.acme_resolved.pk}/write-up/", admin_writes()),
    ],
    "admin/aws_integrations/supportcase/open/<int:ticket_id>/": [
        get(
            lambda w: f"/admin/aws_integrations/supportcase/open/{w.acme_resolved.pk}/",
            ADMIN_WORKER,
        ),
        # A valid form would call AWS: only the refusal is checked here.
        post(
            lambda w: f"/admin/aws_integrations/supportcase/open/{w.acme_resolved.pk}/",
            {"aud": 403, "cust_a": ADMIN_LOGIN},
            data=lambda w: {"account": w.aws_account.pk, "service_code": "x"},
            changes=False,
        ),
    ],
    # The onboarding template holds no secret: all staff may download it.
    "admin/aws_integrations/supportcase/cloudformation/<int:account_id>/": [
        get(
            lambda w: f"/admin/aws_integrations/supportcase/cloudformation/{w.aws_account.pk}/",
            ADMIN_STAFF,
        ),
    ],
    "admin/aws_integrations/healthevent/<int:event_id>/notify/": [
        get(
            lambda w: f"/admin/aws_integrations/healthevent/{w.health_event.pk}/notify/",
            ADMIN_WORKER,
        ),
        post(
            lambda w: f"/admin/aws_integrations/healthevent/{w.health_event.pk}/notify/",
            admin_writes(),
            data=lambda w: {"customers": [w.globex.pk]},
        ),
    ],
    "admin/incidents/rule/<int:rule_id>/dry-run/": [
        get(lambda w: f"/admin/incidents/rule/{w.rule.pk}/dry-run/", ADMIN_STAFF),
    ],
}


def _rq(path: str) -> str:
    return f"/admin/django_rq/dashboard/{path}"


RQ_API = per_role(401, 401, 401, 200, 200, 200)  # session staff, or django-rq's own token

# django-rq's dashboard checks is_staff only: any staff member reads it, engineers and
# managers may act on jobs, and the auditor's unsafe requests are refused by the middleware.
ACCESS.update(
    {
        "admin/django_rq/dashboard/^stats.json/?$": [get(_rq("stats.json"), RQ_API)],
        r"admin/django_rq/dashboard/^stats.json/(?P<token>[\w]+)?/?$": [
            get(_rq("stats.json/wrongtoken/"), RQ_API)
        ],
        "admin/django_rq/dashboard/^metrics/?$": [get(_rq("metrics"), RQ_API)],
        "admin/django_rq/dashboard/": [get(_rq(""), ADMIN_STAFF)],
        # The dashboard's placeholder model has no table and never an object: its model pages
        # say so (back to the index) rather than fail.
        "admin/django_rq/dashboard/add/": [
            get(_rq("add/"), per_role(*(ADMIN_LOGIN,) * 3, 403, 403, 403))
        ],
        **{
            f"admin/django_rq/dashboard/<path:object_id>/{view}": [
                get(
                    _rq(f"1/{view}"),
                    per_role(*(ADMIN_LOGIN,) * 3, *(Redirect("/admin/"),) * 3),
                )
            ]
            for view in ("change/", "history/")
        },
        # No delete permission exists for it (django-rq declares none).
        "admin/django_rq/dashboard/<path:object_id>/delete/": [
            get(_rq("1/delete/"), per_role(*(ADMIN_LOGIN,) * 3, 403, 403, 403))
        ],
        "admin/django_rq/dashboard/<path:object_id>/": [
            get(
                _rq("1/"),
                per_role(*(ADMIN_LOGIN,) * 3, *(Redirect(_rq("1/change/")),) * 3),
            )
        ],
        "admin/django_rq/dashboard/queues/<int:queue_index>/": [
            get(lambda w: _rq(f"queues/{w.rq_queue}/"), ADMIN_STAFF)
        ],
        **{
            f"admin/django_rq/dashboard/queues/<int:queue_index>/{page}/": [
                get(lambda w, page=page: _rq(f"queues/{w.rq_queue}/{page}/"), ADMIN_STAFF)
            ]
            for page in ("details", "finished", "failed", "scheduled", "started", "deferred")
        },
        **{
            f"admin/django_rq/dashboard/queues/<int:queue_index>/{page}/": [
                get(lambda w, page=page: _rq(f"queues/{w.rq_queue}/{page}/"), ADMIN_STAFF),
                post(
                    lambda w, page=page: _rq(f"queues/{w.rq_queue}/{page}/"),
                    {"aud": 403, "anon": ADMIN_LOGIN, "cust_a": ADMIN_LOGIN},
                    changes=False,
                ),
            ]
            for page in ("failed/clear", "empty", "requeue-all")
        },
        "admin/django_rq/dashboard/queues/<int:queue_index>/<str:job_id>/": [
            get(lambda w: _rq(f"queues/{w.rq_queue}/{w.rq_job}/"), ADMIN_STAFF),
            get(lambda w: _rq(f"queues/{w.rq_queue}/no-such-job/"), ADMIN_NOT_FOUND),
        ],
        "admin/django_rq/dashboard/queues/<int:queue_index>/<str:job_id>/results/<str:result_id>/": [
            get(lambda w: _rq(f"queues/{w.rq_queue}/{w.rq_job}/results/nope/"), ADMIN_NOT_FOUND)
        ],
        **{
            f"admin/django_rq/dashboard/queues/<int:queue_index>/<str:job_id>/{action}/": [
                get(lambda w, a=action: _rq(f"queues/{w.rq_queue}/{w.rq_job}/{a}/"), ADMIN_STAFF),
                post(
                    lambda w, a=action: _rq(f"queues/{w.rq_queue}/{w.rq_job}/{a}/"),
                    {"aud": 403, "anon": ADMIN_LOGIN, "cust_a": ADMIN_LOGIN},
                    changes=False,
                ),
            ]
            for action in ("delete", "requeue", "enqueue")
        },
        "admin/django_rq/dashboard/queues/<int:queue_index>/<str:job_id>/stop/": [
            get(
                lambda w: _rq(f"queues/{w.rq_queue}/{w.rq_job}/stop/"),
                per_role(*(ADMIN_LOGIN,) * 3, 405, 405, 405),
            ),
            post(
                lambda w: _rq(f"queues/{w.rq_queue}/{w.rq_job}/stop/"),
                {"aud": 403, "anon": ADMIN_LOGIN, "cust_a": ADMIN_LOGIN},
                changes=False,
            ),
        ],
        "admin/django_rq/dashboard/queues/confirm-action/<int:queue_index>/": [
            get(
                lambda w: _rq(f"queues/confirm-action/{w.rq_queue}/"),
                per_role(*(ADMIN_LOGIN,) * 3, *(Redirect(_rq("queues/"), prefix=True),) * 3),
            ),
        ],
        "admin/django_rq/dashboard/queues/actions/<int:queue_index>/": [
            get(
                lambda w: _rq(f"queues/actions/{w.rq_queue}/"),
                per_role(*(ADMIN_LOGIN,) * 3, *(Redirect(_rq("queues/"), prefix=True),) * 3),
            ),
            post(
                lambda w: _rq(f"queues/actions/{w.rq_queue}/"),
                {"aud": 403, "anon": ADMIN_LOGIN, "cust_a": ADMIN_LOGIN},
                data=lambda w: {"action": "delete", "job_ids": [w.rq_job]},
                changes=False,
            ),
        ],
        "admin/django_rq/dashboard/workers/<int:queue_index>/": [
            get(lambda w: _rq(f"workers/{w.rq_queue}/"), ADMIN_STAFF)
        ],
        "admin/django_rq/dashboard/workers/<int:queue_index>/<str:key>/": [
            # A worker that has stopped: 404 (django-rq's own page failed with a 500).
            get(
                lambda w: _rq(f"workers/{w.rq_queue}/rq:worker:gone/"),
                per_role(*(ADMIN_LOGIN,) * 3, 404, 404, 404),
            )
        ],
        # rq-scheduler is not installed (periodic jobs run in rqcron): 404, not a 500.
        "admin/django_rq/dashboard/schedulers/<int:scheduler_index>/": [
            get(_rq("schedulers/0/"), per_role(*(ADMIN_LOGIN,) * 3, 404, 404, 404))
        ],
        "admin/django_rq/dashboard/cron-schedulers/<int:connection_index>/<str:scheduler_name>/": [
            get(_rq("cron-schedulers/0/nope/"), ADMIN_NOT_FOUND)
        ],
        "admin/django_rq/dashboard/cron-schedulers/<int:connection_index>/<str:scheduler_name>/jobs/<path:cron_job_name>/": [
            get(_rq("cron-schedulers/0/nope/jobs/x/"), ADMIN_NOT_FOUND)
        ],
    }
)


# --- walking the URL conf -------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None


def walk(resolver=None, prefix="", namespace=""):
    """Every URL pattern of the project: (full route, namespaced name)."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern, route, inner)
        else:
            yield Route(route, f"{namespace}{pattern.name}" if pattern.name else None)


def api_methods() -> dict[str, set[str]]:
    """Route -> HTTP methods of the API's operations, from its OpenAPI description."""
    from spt_portal.urls import api

    paths = api.get_openapi_schema()["paths"]
    return {
        re.sub(r"\{(\w+)\}", r"<\1>", path).lstrip("/"): {m.lower() for m in operations}
        for path, operations in paths.items()
    }


ADMIN_VIEWS = ("changelist", "add", "change", "delete", "history", "object")


def admin_models() -> dict:
    """Registered ModelAdmins that the generic rule covers: every model with a table."""
    return {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.managed
    }


def admin_url(model, view, obj=None) -> str:
    opts = model._meta
    base = f"/admin/{opts.app_label}/{opts.model_name}/"
    pk = obj.pk if obj is not None else "<path:object_id>"
    return {
        "changelist": base,
        "add": base + "add/",
        "change": f"{base}{pk}/change/",
        "delete": f"{base}{pk}/delete/",
        "history": f"{base}{pk}/history/",
        "object": f"{base}{pk}/",  # redirects to the change page
    }[view]


def admin_model_routes() -> set[str]:
    """The routes of the standard pages of every covered ModelAdmin."""
    return {admin_url(model, view).lstrip("/") for model in admin_models() for view in ADMIN_VIEWS}


# --- requests ------------------------------------------------------------------------------


class Roles:
    """One signed-in test client per role (and an anonymous one for API tokens)."""

    def __init__(self, world):
        # Signed in here, outside the savepoints that are rolled back (with the session).
        self.world = world
        self.clients = {role: self._signed_in(role) for role in ROLES}

    def _signed_in(self, role):
        client = Client()
        if self.world.users[role] is not None:
            client.force_login(self.world.users[role])
        return client

    def client(self, role, *, fresh=False):
        return self._signed_in(role) if fresh else self.clients[role]


def send(roles, check: Check, role: str):
    w = roles.world
    kwargs = dict(check.headers(w)) if check.headers else {}
    data = check.data(w) if check.data else None
    if check.api:
        client = roles.client("anon")
        if role != "anon":
            kwargs["HTTP_AUTHORIZATION"] = f"Bearer {w.tokens[role]}"
    else:
        client = roles.client(role, fresh=check.fresh_client)
    if data is not None and (check.api or check.json):
        kwargs.update(data=json.dumps(data), content_type="application/json")
    elif data is not None:
        kwargs["data"] = data
    return getattr(client, check.method)(check.url_for(w), **kwargs)


def matches(expected, response) -> bool:
    if isinstance(expected, Redirect):
        return expected.matches(response)
    return response.status_code == expected


def describe(response) -> str:
    if response.status_code in (301, 302):
        return f"{response.status_code} -> {response['Location']}"
    return str(response.status_code)


WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


class Writes:
    """The tables that the SQL sent inside the block writes to (INSERT, UPDATE, DELETE).

    Signing in, sessions and a token's "last used" stamp are not the request's doing."""

    def __init__(self):
        self.tables = set()

    def __call__(self, execute, sql, params, many, context):
        match = WRITE.match(sql)
        if match and not self._ignored(match.group(1), sql):
            self.tables.add(match.group(1))
        return execute(sql, params, many, context)

    @staticmethod
    def _ignored(table, sql) -> bool:
        if table == "django_session" or table.startswith("axes_"):
            return True
        return table == "spt_portal_apitoken" and "last_used_at" in sql

    def __enter__(self):
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)


def attempt(roles, check, role, *, watch=False):
    """Send in a savepoint that is rolled back. Returns (response or None, error, tables the
    request wrote to, when ``watch``)."""
    writes = Writes()
    try:
        with transaction.atomic():
            if watch:
                with writes:
                    response = send(roles, check, role)
            else:
                response = send(roles, check, role)
            transaction.set_rollback(True)
    except Exception as exc:  # a 500: the test client re-raises the view's exception
        return None, f"raised {type(exc).__name__}: {exc}", sorted(writes.tables)
    return response, None, sorted(writes.tables)


def run_checks(roles, checks, role) -> list[str]:
    """Each check as ``role``: the status, and for unsafe requests what the database says.
    The auditor's refused writes change nothing; the first role allowed to write changes
    something (else the check's body no longer writes and proves nothing)."""
    failures = []
    for check in checks:
        expected = check.expect.get(role)
        if expected is None:
            continue
        url = f"{check.method.upper()} {check.url_for(roles.world)} as {role}"
        refused = (role == "aud" and check.writes) or role in check.unchanged
        proving = role == check.writer_role() and check.changes
        response, error, changed = attempt(roles, check, role, watch=refused or proving)
        if error or not matches(expected, response):
            failures.append(f"{url}: expected {expected}, got {error or describe(response)}")
        elif refused and changed:
            failures.append(f"{url}: not allowed, yet it wrote to {changed}")
        elif proving and not changed:
            failures.append(f"{url}: wrote nothing; give the check a body that writes")
    return failures


# --- the database fingerprint (did a request change anything?) ----------------------------

# Touched by signing in and by using an API token, not by the request under test.
VOLATILE_FIELDS = {"last_login", "last_used_at"}
SKIPPED_APPS = {"sessions", "axes"}


def _tables():
    tables = []
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if not opts.managed or opts.proxy or opts.app_label in SKIPPED_APPS:
            continue
        columns = [f.column for f in opts.concrete_fields if f.attname not in VOLATILE_FIELDS]
        tables.append((opts.label, opts.db_table, columns, opts.pk.column))
    return tables


def fingerprint() -> dict[str, str]:
    """A digest of every row of every table: "nothing changed" means the same digests."""
    quote = connection.ops.quote_name
    digests = {}
    with connection.cursor() as cursor:
        for label, table, columns, pk in _tables():
            cursor.execute(
                f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)} ORDER BY {quote(pk)}"
            )
            digests[label] = hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()
    return digests


def changed_tables(before, after) -> list[str]:
    return sorted(label for label in after if before.get(label) != after[label])


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker):
    """The world is built once for the module, in a transaction rolled back at its end; each
    test runs in a savepoint inside it (pytest-django's usual per-test rollback)."""
    with django_db_blocker.unblock(), transaction.atomic():
        sync_roles()
        acme = CustomerFactory(name="Acme", short_code="ACME")
        globex = CustomerFactory(name="Globex", short_code="GLOBEX")
        w = build_world(
            acme=acme,
            globex=globex,
            acme_user=CustomerUserFactory(customer=acme, email="alice@acme.example"),
            globex_user=CustomerUserFactory(customer=globex, email="bob@globex.example"),
            engineer=StaffUserFactory(email="eng@partner.example", role=Role.ENGINEER),
            manager=StaffUserFactory(email="mgr@partner.example", role=Role.MANAGER),
            auditor=StaffUserFactory(email="aud@partner.example", role=Role.AUDITOR),
        )
        w.rq_queue, w.rq_job, job = _waiting_job()
        try:
            yield w
        finally:
            job.delete(remove_from_queue=True)
            transaction.set_rollback(True)


@pytest.fixture
def world(_module_world, db, settings):
    settings.METRICS_BEARER_TOKEN = "scrape-me"
    mail.outbox.clear()
    return _module_world


def _waiting_job():
    """A real job waiting in the default queue, for the job pages of the RQ dashboard (the
    test queues run jobs at once; this one is queued for later and deleted afterwards)."""
    import django_rq
    from django_rq.settings import get_queues_map

    queue = django_rq.get_queue("default", is_async=True, commit_mode="auto")
    job = queue.enqueue("spt_portal.jobs.worker_heartbeat")
    return get_queues_map()["default"], job.id, job


@pytest.fixture
def roles(world):
    return Roles(world)


@pytest.fixture(autouse=True)
def _quiet_request_logs():
    """Thousands of requests: their access lines and 4xx tracebacks only cost time here."""
    names = ("django.request", "spt_portal.requests")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


# --- tests: the table is complete -----------------------------------------------------------


def test_every_url_has_an_access_entry():
    """Every route of the URL conf is in ACCESS (or is a standard admin model page), every
    API operation has a request of its method, and ACCESS names no route that is gone."""
    admin_routes = admin_model_routes()
    methods = api_methods()
    missing, gone = [], []
    seen = set()
    for route in walk():
        seen |= {route.route, route.name}
        if route.route in admin_routes:
            continue
        checks = ACCESS.get(route.route) or ACCESS.get(route.name)
        if not checks:
            missing.append(f"{route.route} ({route.name})")
            continue
        wanted = methods.get(route.route, set())
        tested = {c.method for c in checks}
        missing += [f"{m.upper()} {route.route} ({route.name})" for m in wanted - tested]
    gone = sorted(set(ACCESS) - seen)
    assert not missing, (
        "New URL without an access entry: add it to ACCESS in "
        "tests/security/test_access_matrix.py with the status each role must get:\n  "
        + "\n  ".join(missing)
    )
    assert not gone, "ACCESS names routes that no longer exist:\n  " + "\n  ".join(gone)


def test_every_admin_model_has_an_object_to_open(world):
    empty = [m._meta.label for m in admin_models() if not m._base_manager.exists()]
    assert not empty, f"Add an object of {empty} to tests/security/access_world.py"


# --- tests: the matrix -----------------------------------------------------------------------


def test_access_matrix(roles):
    """Every request of ACCESS as every role: the status (and redirect) each must get; the
    auditor's refused writes write nothing; each writing request, when allowed, writes."""
    failures = []
    for role in ROLES:
        for checks in ACCESS.values():
            failures += run_checks(roles, checks, role)
    assert not failures, f"{len(failures)} requests answered wrongly:\n  " + "\n  ".join(failures)


def _request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def admin_expected(model_admin, view, role, user, obj):
    """The status a role must get on a standard admin page of a model.

    Signed out and customers: the admin's sign-in page. Auditors: they read every model of
    the project apps (view permission) and never add or delete. Engineers and managers: what
    their role's permissions allow, as the ModelAdmin narrows them (it may never widen them:
    ``test_model_admins_never_grant_more_than_the_role_table``).
    """
    if role in ("anon", "cust_a", "cust_b"):
        return ADMIN_LOGIN
    opts = model_admin.model._meta
    if view == "object":  # the bare object URL redirects to its change page
        return Redirect(f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/change/")
    request = _request_as(user)
    if role == "aud":
        reads = user.has_perm(f"{opts.app_label}.view_{opts.model_name}")
        if opts.app_label in PROJECT_APPS:
            assert reads, f"the auditor cannot read {opts.label}"
        if view in ("add", "delete"):
            return 403
        return 200 if reads else 403
    allowed = {
        "changelist": model_admin.has_view_or_change_permission(request),
        "add": model_admin.has_add_permission(request),
        "change": model_admin.has_view_or_change_permission(request, obj),
        "history": model_admin.has_view_or_change_permission(request, obj),
        "delete": model_admin.has_delete_permission(request, obj),
    }[view]
    return 200 if allowed else 403


def test_admin_model_pages(roles):
    """The generic rule, applied to every page of every registered ModelAdmin."""
    failures = []
    for role in ROLES:
        failures += _admin_pages_as(roles, role)
    assert not failures, f"{len(failures)} admin pages answered wrongly:\n  " + "\n  ".join(
        failures
    )


def _admin_pages_as(roles, role) -> list[str]:
    user = roles.world.users[role]
    failures = []
    for model, model_admin in admin_models().items():
        obj = model._base_manager.order_by("pk").first()
        for view in ADMIN_VIEWS:
            url = admin_url(model, view, obj)
            expected = admin_expected(model_admin, view, role, user, obj)
            failures += run_checks(roles, [get(url, {role: expected})], role)
    for app_label in sorted({m._meta.app_label for m in admin.site._registry}):
        if role in ("anon", "cust_a", "cust_b"):
            expected = ADMIN_LOGIN
        else:
            expected = 200 if user.has_module_perms(app_label) else 404
        failures += run_checks(roles, [get(f"/admin/{app_label}/", {role: expected})], role)
    return failures


def test_model_admins_never_grant_more_than_the_role_table(world):
    wider = []
    for role, model, model_admin in (
        (role, model, model_admin)
        for role in ("eng", "mgr", "aud")
        for model, model_admin in admin_models().items()
    ):
        user = world.users[role]
        request = _request_as(user)
        opts = model._meta
        obj = model._base_manager.order_by("pk").first()
        granted = {
            "view": model_admin.has_view_permission(request, obj),
            "add": model_admin.has_add_permission(request),
            "change": model_admin.has_change_permission(request, obj),
            "delete": model_admin.has_delete_permission(request, obj),
        }
        for action, allowed in granted.items():
            if allowed and not user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
                wider.append(f"{role}: {opts.label} {action}")
    assert not wider, f"The admin grants more than roles.ROLE_PERMISSIONS: {wider}"


# --- tests: one customer never reaches another's tickets ------------------------------------

MISSING_TICKET = "TKT-999999"
# The CSRF token and the CSP nonce differ on every page; what follows them is left out.
PER_REQUEST = re.compile(
    r'((?:nonce|Nonce|CSRFToken)"?\s*[:=]\s*"|csrfmiddlewaretoken" value=")[^"]*'
)


def _same_page(response, other, *, swap) -> bool:
    """Two answers are the same page once the asked-for names are swapped (and the per
    request tokens, CSRF and CSP nonces, are left out)."""

    def normal(body):
        text = body.decode()
        for old, new in swap:
            text = text.replace(old, new)
        return PER_REQUEST.sub(r"\1", text)

    return response.status_code == other.status_code and normal(response.content) == normal(
        other.content
    )


def test_another_customers_ticket_looks_like_no_ticket_in_the_portal(roles):
    """Acme's contact asks for Globex's ticket every way the portal offers: each answer is
    the 404 a ticket number that does not exist gets, and nothing changes."""
    w = roles.world
    client = roles.client("cust_a")
    theirs = w.globex_ticket.number
    before = fingerprint()
    asks = [
        ("get", "/portal/tickets/{}/", None),
        ("post", "/portal/tickets/{}/", {"body": "Let me in"}),
        ("post", "/portal/tickets/{}/confirm/", None),
        ("post", "/portal/tickets/{}/reopen/", {"reason": "x"}),
    ]
    for method, path, data in asks:
        found = getattr(client, method)(path.format(theirs), data=data or {})
        missing = getattr(client, method)(path.format(MISSING_TICKET), data=data or {})
        assert found.status_code == 404, (method, path)
        assert _same_page(found, missing, swap=[(theirs, MISSING_TICKET)]), (method, path)
        assert GLOBEX_SECRET not in found.content.decode()
    attachment = client.get(f"/portal/attachments/{w.globex_attachment.pk}/")
    no_attachment = client.get("/portal/attachments/999999/")
    assert attachment.status_code == 404
    assert _same_page(attachment, no_attachment, swap=[(str(w.globex_attachment.pk), "999999")])
    assert changed_tables(before, fingerprint()) == []
    # The same requests from Globex's own contact do reach the ticket (the test can fail).
    assert roles.client("cust_b").get(f"/portal/tickets/{theirs}/").status_code == 200


def _api(roles):
    """Call the API as a role with the world's token (no new token rows)."""

    def call(method, path, role, data=None):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {roles.world.tokens[role]}"}
        if data is not None:
            kwargs.update(data=json.dumps(data), content_type="application/json")
        return getattr(roles.client("anon"), method)(path, **kwargs)

    return call


def test_another_customers_ticket_looks_like_no_ticket_in_the_api(roles):
    w = roles.world
    api = _api(roles)
    user = "cust_a"
    theirs = w.globex_ticket.number
    before = fingerprint()
    for method, path, data in [
        ("get", "/api/v1/tickets/{}", None),
        ("get", "/api/v1/tickets/{}/comments", None),
        ("post", "/api/v1/tickets/{}/comments", {"body": "Let me in"}),
    ]:
        found = api(method, path.format(theirs), user, data)
        missing = api(method, path.format(MISSING_TICKET), user, data)
        assert found.status_code == missing.status_code == 404, path
        assert found.json() == missing.json() == {"detail": "Not found."}, path
    # Filing for another organisation is refused the same way whether it exists or not.
    other = api("post", "/api/v1/tickets", user, {"title": "x", "customer_id": w.globex.pk})
    nobody = api("post", "/api/v1/tickets", user, {"title": "x", "customer_id": 999999})
    assert other.status_code == nobody.status_code == 403
    assert other.json() == nobody.json()
    assert changed_tables(before, fingerprint()) == []
    # Listing, even asking for Globex by name, returns Acme's tickets only.
    listed = api("get", "/api/v1/tickets?customer=GLOBEX&page_size=100", user).json()
    numbers = {t["number"] for t in listed["items"]}
    assert numbers == {w.acme_ticket.number, w.acme_resolved.number}
    assert api("get", f"/api/v1/tickets/{theirs}", "cust_b").status_code == 200


def test_search_and_suggestions_never_show_another_customers_tickets(roles):
    w = roles.world
    client = roles.client("cust_a")
    theirs = w.globex_ticket.number
    pages = {
        "number search": client.get(f"/portal/?q={theirs}"),
        "title search": client.get("/portal/?q=Globex+payroll"),
        "knowledge base": client.get("/portal/kb/?q=HSM"),
        "knowledge base, all": client.get("/portal/kb/"),
        "suggestions": client.get("/portal/kb/suggest/?title=Globex+payroll+HSM"),
        "SLA overview": client.get("/sla/"),
        "organisation": client.get("/portal/organisation/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        text = response.content.decode()
        # (The number itself is echoed in the search box: its link must not be there.)
        link = f'href="/portal/tickets/{theirs}/"'
        for secret in (link, GLOBEX_SECRET, INTERNAL_ARTICLE, DRAFT_ARTICLE, "bob@globex"):
            assert secret not in text, f"{name} shows {secret!r}"
        if "search" not in name and "suggestions" not in name:  # those echo the words typed
            assert "Globex" not in text and "GLOBEX" not in text, f"{name} names Globex"
    assert "No tickets match." in pages["number search"].content.decode()
    assert "How to read RDS failover events" in pages["knowledge base, all"].content.decode()
    # Staff do find them (the searches can fail).
    staff_kb = roles.client("eng").get("/portal/kb/?q=HSM").content.decode()
    assert INTERNAL_ARTICLE in staff_kb
    report = roles.client("mgr").get("/sla/report.csv").content.decode()
    assert "Globex" in report and "Acme" in report


def test_internal_notes_never_reach_the_customer(roles):
    w = roles.world
    api = _api(roles)
    page = roles.client("cust_a").get(f"/portal/tickets/{w.acme_ticket.number}/")
    text = page.content.decode()
    assert "Visible answer from support" in text
    assert INTERNAL_NOTE not in text and "internal.txt" not in text
    comments = api("get", f"/api/v1/tickets/{w.acme_ticket.number}/comments", "cust_a")
    bodies = [c["body"] for c in comments.json()]
    assert "Visible answer from support" in bodies and INTERNAL_NOTE not in bodies
    staff = api("get", f"/api/v1/tickets/{w.acme_ticket.number}/comments", "eng")
    assert INTERNAL_NOTE in [c["body"] for c in staff.json()]
    assert (
        roles.client("cust_a").get(f"/portal/attachments/{w.note_attachment.pk}/").status_code
        == 404
    )
    # A customer cannot write one either.
    refused = api(
        "post",
        f"/api/v1/tickets/{w.acme_ticket.number}/comments",
        "cust_a",
        {"body": "sneaky", "visibility": "internal"},
    )
    assert refused.status_code == 403
    # The incident notice shows the external message, never the internal title.
    notice = roles.client("cust_a").get(f"/portal/incidents/{w.incident.number}/")
    assert notice.status_code == 200
    assert "Billing outage (internal title)" not in notice.content.decode()


def test_internal_notes_are_never_emailed_to_the_customer(
    roles, django_capture_on_commit_callbacks
):
    """The notification jobs really run (through the outbox and the queue); whatever they
    send to the customer, an internal note is never in it."""
    from tickets import services

    w = roles.world
    alice = w.users["cust_a"].email
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_add(
            ticket=w.acme_ticket,
            author=w.users["eng"],
            body="SECOND INTERNAL: do not tell the customer",
            visibility="internal",
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_add(
            ticket=w.acme_ticket, author=w.users["eng"], body="Please restart the instance."
        )

    def text(message):
        return (
            message.subject
            + message.body
            + "".join(str(content) for content, _type in getattr(message, "alternatives", []))
        )

    to_alice = [text(m) for m in mail.outbox if alice in m.to]
    assert len([t for t in to_alice if "Please restart the instance." in t]) == 1
    assert not [t for t in to_alice if "INTERNAL" in t]
    staff = [text(m) for m in mail.outbox if alice not in m.to]
    assert staff  # the staff did get notices (the search can fail)


def _ticket_change_data(ticket, **overrides):
    data = {
        "requester": ticket.requester_id or "",
        "title": ticket.title,
        "description": ticket.description,
        "category": ticket.category_id or "",
        "tags": "",
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee": ticket.assignee_id or "",
        "cc_contacts": [],
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
        "attachments-MIN_NUM_FORMS": "0",
        "attachments-MAX_NUM_FORMS": "1000",
    }
    return {**data, **overrides}


def test_another_customers_contact_never_gets_a_tickets_email(
    roles, django_capture_on_commit_callbacks
):
    """A contact of Globex set on Acme's ticket (CC or requester) would be emailed every
    public reply. The workspace refuses it, and mail never goes to another customer's people
    even if one was set before."""
    from tickets import services

    w = roles.world
    ticket, bob = w.acme_ticket, w.users["cust_b"]
    url = f"/admin/tickets/ticket/{ticket.pk}/change/"
    client = roles.client("eng")
    for field, value in (("cc_contacts", [bob.pk]), ("requester", bob.pk)):
        response = client.post(url, _ticket_change_data(ticket, **{field: value}))
        assert response.status_code == 200, field  # the form again, with the error
        assert "do not belong to this" in response.content.decode() or (
            "does not belong to this customer" in response.content.decode()
        ), field
    ticket.refresh_from_db()
    assert ticket.requester == w.users["cust_a"] and not ticket.cc_contacts.exists()
    # Acme's own colleague may be copied (the form is not simply refusing everything).
    colleague = type(bob).objects.create_user(
        "carol@acme.example", customer=w.acme, full_name="Carol"
    )
    ok = client.post(url, _ticket_change_data(ticket, cc_contacts=[colleague.pk]))
    assert ok.status_code == 302
    ticket.cc_contacts.add(bob)  # set before the rule existed
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_add(ticket=ticket, author=w.users["eng"], body="Fixed the pool size.")
    told = [m.to for m in mail.outbox if "Fixed the pool size." in m.body]
    assert [colleague.email] in told
    assert not [to for to in told if bob.email in to]


def test_the_auditor_is_refused_every_write_of_the_table():
    """Every route with an unsafe request in ACCESS asks it as the auditor and expects a 403
    (test_access_matrix then checks the answer and that nothing was written). The only
    unsafe requests allowed are the auditor's own (language, signing out) and a report that
    takes its parameters as a POST body."""
    not_refused, allowed = [], set()
    for route, checks in ACCESS.items():
        unsafe = [check for check in checks if check.method != "get"]
        for check in unsafe:
            if not check.writes:
                allowed.add(route)
            elif check.expect.get("aud") not in (403, None):
                not_refused.append(f"{check.method.upper()} {route}")
        writes = [check for check in unsafe if check.writes]
        if writes and not any(check.expect.get("aud") == 403 for check in writes):
            not_refused.append(f"{route} (the auditor is not asked)")
    assert not not_refused, not_refused
    assert allowed == {"i18n/setlang/", "accounts/logout/", "api/v1/incidents/monitoring"}


def test_the_auditor_cannot_write_through_the_admin(roles):
    """POST to every admin model page (add, change, delete, a bulk delete) as the auditor:
    refused, nothing written, and the database is the same afterwards."""
    client = roles.client("aud")
    failures = []
    before = fingerprint()
    for model in admin_models():
        opts = model._meta
        obj = model._base_manager.order_by("pk").first()
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        for url, data in [
            (base + "add/", {}),
            (f"{base}{obj.pk}/change/", {}),
            (f"{base}{obj.pk}/delete/", {"post": "yes"}),
            (base, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}),
        ]:
            with Writes() as writes:
                response = client.post(url, data)
            if response.status_code != 403 or writes.tables:
                failures.append(f"POST {url}: {response.status_code}, wrote {writes.tables}")
    assert not failures, "\n".join(failures)
    assert changed_tables(before, fingerprint()) == []
