"""The REST API (/api/v1/): django-ninja, bearer tokens, JSON errors only.

Why django-ninja rather than Django REST framework: typed request/response schemas with
pydantic give strict validation (unknown fields and wrong types are 422s with details)
and an OpenAPI schema for free; its interactive docs ship as static files (no CDN), and
it is lighter per request, which matters for the API's throughput target.
"""

from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer
from pydantic import AfterValidator, ConfigDict, field_validator

from . import access
from .inputs import has_nul
from .tokens import user_for_token


def _refuse_nul(value):
    # PostgreSQL cannot store NUL in text (nor compare with it): let one through and the
    # query fails with a 500. Django's form fields refuse it the same way.
    if has_nul(value):
        raise ValueError(_("Null characters are not allowed."))
    return value


# A string path parameter (ticket numbers): NUL is refused with a 422.
PathText = Annotated[str, AfterValidator(_refuse_nul)]

# A row id in a request body: positive and within BigAutoField's range. Django guards
# exact lookups against out-of-range integers but not ``pk__in``, where SQLite's driver
# raises OverflowError (a 500) on anything past 64 bits.
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Strict(Schema):
    """A request body: unknown fields and NUL characters anywhere are refused (422)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value):
        return _refuse_nul(value)


class QueryParser(Parser):
    """Ninja's parser, refusing NUL characters in query parameters (422), as Strict does
    in bodies."""

    def parse_querydict(self, data, list_fields, request):
        for key, values in data.lists():
            if has_nul(key) or has_nul(values):
                message = _("Null characters are not allowed.")
                raise ValidationError(
                    [{"type": "value_error", "loc": ["query", key], "msg": message}]
                )
        return super().parse_querydict(data, list_fields, request)


class Error(Schema):
    detail: str


class InvalidRequest(Schema):
    detail: str
    errors: list[dict[str, Any]]


def responses(ok: Any, *errors: int) -> dict[int, Any]:
    """An operation's documented answers: ``ok`` (a schema for 200, or a {status: schema}
    dict), 401 and 422 (every operation: no valid token, invalid parameters or body, both
    answered by the handlers below) and the listed error codes (403, 404, 413, ...).

    The fuzz test (tests/security/test_api_fuzz.py) fails on any status the schema omits.
    """
    documented = dict(ok) if isinstance(ok, dict) else {200: ok}
    documented.setdefault(401, Error)
    documented.setdefault(422, InvalidRequest)
    for status in errors:
        documented.setdefault(status, Error)
    return documented


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = user_for_token(token)
        if user is None:
            return None
        request.user = user
        return user


def build_api() -> NinjaAPI:
    api = NinjaAPI(
        title="SPT Portal API",
        version="1",
        description="Tickets for customers and engineers; alerts and incidents for staff. "
        "Authenticate with "
        "`Authorization: Bearer <token>` (`manage.py create_api_token <email>`).",
        auth=TokenAuth(),
        parser=QueryParser(),
        urls_namespace="api",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, {"detail": "Not found."}, status=404)

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc):
        return api.create_response(
            request, {"detail": str(exc) or "Permission denied."}, status=403
        )

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        return api.create_response(request, {"detail": "Request body too large."}, status=413)

    @api.exception_handler(AuthenticationError)
    def unauthorised(request, exc):
        return api.create_response(
            request, {"detail": "A valid bearer token is required."}, status=401
        )

    @api.exception_handler(ValidationError)
    def invalid(request, exc):
        return api.create_response(
            request, {"detail": "Invalid request.", "errors": exc.errors}, status=422
        )

    from aws_integrations.api import router as aws_router
    from incidents.api import alerts_router
    from incidents.api import router as incidents_router
    from postmortems.api import router as postmortems_router
    from tickets.api import router as tickets_router

    api.add_router("/tickets", tickets_router)
    api.add_router("/tickets", aws_router)
    api.add_router("/alerts", alerts_router)
    api.add_router("/incidents", incidents_router)
    api.add_router("/postmortems", postmortems_router)
    return api


def require_writer(request) -> None:
    """Auditors (and anyone else who is neither customer nor working staff) only read."""
    user = request.user
    if access.is_customer_user(user) or access.is_engineer_or_manager(user):
        return
    raise PermissionDenied("This token is read-only.")
