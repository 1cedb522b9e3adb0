import logging
import zoneinfo

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import access
from .inputs import has_nul

logger = logging.getLogger(__name__)


class UserPreferencesMiddleware:
    """Apply a signed-in user's language and timezone.

    The language comes from the language cookie when the user chose one with the switcher
    (the switcher also saves it as the preference), else from the user's preference; an
    anonymous visitor gets the browser's language (LocaleMiddleware). Times are shown in the
    user's timezone, else the customer's, else TIME_ZONE.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        tz_name = settings.TIME_ZONE
        if user is not None and user.is_authenticated:
            if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and user.preferred_language:
                translation.activate(user.preferred_language)
                request.LANGUAGE_CODE = translation.get_language()
            tz_name = user.effective_timezone or tz_name
        try:
            timezone.activate(zoneinfo.ZoneInfo(tz_name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo(settings.TIME_ZONE))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class ReadOnlyAuditorMiddleware:
    """Auditors read; they never write. Refuse any unsafe request from a read-only auditor.

    Admin permissions already keep auditors to view-only; this also covers views that check
    only ``is_staff`` (such as the job queue dashboard). Signing out and choosing a language
    stay allowed.
    """

    ALLOWED_NAMES = {"logout", "set_language", "password_change"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return None
        if request.path_info.startswith("/api/"):
            return None  # the API authenticates by token and checks writers itself
        user = getattr(request, "user", None)
        if user is None or not access.is_auditor(user):
            return None
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name in self.ALLOWED_NAMES:
            return None
        raise PermissionDenied("Auditors have read-only access.")


class ApiTrailingSlashMiddleware:
    """Serve every API path with and without its trailing slash, without a redirect.

    The seeds write API paths without the slash (POST /api/tickets) and Django's habit is
    to add one; a POST must not depend on a redirect, so the slash is dropped before URL
    resolution and the API's routes are declared without it.
    """

    PREFIX = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(self.PREFIX) and path.endswith("/") and path.count("/") > 3:
            request.path_info = path.rstrip("/")
        return self.get_response(request)


class RejectNulMiddleware:
    """A NUL character in a query string or a form is refused with a 400 before any view.

    No person types one; PostgreSQL cannot store or even compare text holding one, so a
    search box or filter receiving it would otherwise fail with a 500 deep in a query.
    The REST API answers the same input with a 422 of its own (spt_portal/api.py); webhooks
    read their raw bodies and check them themselves.
    """

    SKIP = ("/api/", "/hooks/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(self.SKIP) and self._has_nul(request):
            logger.warning(
                "refused %s %r: NUL character in the request", request.method, request.path
            )
            return HttpResponseBadRequest(
                _("The request contains a NUL character."), content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)

    @staticmethod
    def _has_nul(request) -> bool:
        if "\x00" in request.path:
            return True
        data = [request.GET]
        if request.content_type == "application/x-www-form-urlencoded":
            data.append(request.POST)
        return any(
            has_nul(key) or has_nul(values) for query in data for key, values in query.lists()
        )
