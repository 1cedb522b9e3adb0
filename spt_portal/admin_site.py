"""The admin is the engineer workspace; its index is the staff dashboard."""

import threading

from django.contrib import admin
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from . import access
from .health import check_database, check_redis, outbox_counts
from .models import JobOutbox

# Later apps add dashboard panels: a callable (request) -> dict with "title", "template"
# and its context; registered from their AppConfig.ready() without importing upward.
DASHBOARD_PANELS: list = []


def register_dashboard_panel(panel) -> None:
    if panel not in DASHBOARD_PANELS:
        DASHBOARD_PANELS.append(panel)


# The apps and models an admin page lists, per set of permissions, roles and language
# (see SPTAdminSite.get_app_list); bounded, dropped whole when full.
_APP_LISTS: dict = {}
_APP_LISTS_MAX = 256
_lock = threading.Lock()


class SPTAdminSite(admin.AdminSite):
    site_header = _("SPT Portal: engineer workspace")
    site_title = _("SPT Portal")
    index_title = _("Dashboard")
    index_template = "admin/spt_index.html"

    def get_app_list(self, request, app_label=None):
        """Django's, kept per process for each set of permissions, roles and language.

        Every admin page lists the apps and models its user may see (the sidebar): Django
        asks each of ~50 model admins for four permissions, reverses two URLs per model
        and sorts the lot by translated name, ~2.5 ms a page (bench/README.md). What it
        answers depends only on what the key holds: the model admins decide from the
        user's permissions and roles (spt_portal/access.py), names are translated in the
        active language, URLs follow the script prefix. A user whose permissions or roles
        change gets another key, so the next page shows the change.
        """
        user = request.user
        if user.is_superuser:
            rights = (True, frozenset(), frozenset())
        else:
            rights = (False, frozenset(user.get_all_permissions()), access.roles_of(user))
        key = (
            app_label,
            translation.get_language(),
            get_script_prefix(),
            user.is_active,
            user.is_staff,
            *rights,
        )
        kept = _APP_LISTS.get(key)
        if kept is None:
            kept = super().get_app_list(request, app_label)
            with _lock:
                if len(_APP_LISTS) >= _APP_LISTS_MAX:
                    _APP_LISTS.clear()
                _APP_LISTS[key] = kept
        # Each page gets its own lists and dicts to change (the perms dicts are shared).
        return [{**app, "models": [dict(model) for model in app["models"]]} for app in kept]

    def index(self, request, extra_context=None):
        counts = outbox_counts()
        db_ok, _db = check_database()
        redis_ok, _redis, heartbeat = check_redis()
        context = {
            "panels": [panel(request) for panel in DASHBOARD_PANELS],
            "system": {
                "database_ok": db_ok,
                "redis_ok": redis_ok,
                "worker_heartbeat": heartbeat,
                "outbox_pending": counts[JobOutbox.Status.PENDING],
                "outbox_failed": counts[JobOutbox.Status.FAILED],
            },
            **(extra_context or {}),
        }
        return super().index(request, extra_context=context)
