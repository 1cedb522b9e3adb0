from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tickets.inbound.views import ses_webhook

from . import health, views
from .api import build_api

api = build_api()

audit_patterns = (
    [
        path("", views.audit_overview, name="overview"),
        path("pack.zip", views.audit_pack, name="pack"),
        path("<str:code>/", views.audit_item, name="item"),
    ],
    "audit",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("health", health.healthz, name="health"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("incidents.urls")),
    path("", include("postmortems.urls")),
    path("portal/", include("tickets.urls")),
    path("", include("sla.urls")),
    path("", include("tickets.urls_sla")),
    path("audit/", include(audit_patterns)),
    path("docs/", views.document_list, name="documents"),
    path("docs/<slug:slug>/", views.document_detail, name="document"),
    path(
        "docs/<slug:slug>/print/", views.document_detail, {"printable": True}, name="document_print"
    ),
    path("api/v1/", api.urls),
    path("hooks/ses/", ses_webhook, name="ses_webhook"),
    path("admin/", admin.site.urls),
]
