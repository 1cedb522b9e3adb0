"""The REST API (/api/v1/): django-ninja, bearer tokens, JSON errors only.

Why django-ninja rather than Django REST framework: typed request/response schemas with
pydantic give strict validation (unknown fields and wrong types are 422s with details)
and an OpenAPI schema for free; its interactive docs ship as static files (no CDN), and
it is lighter per request, which matters for the API's throughput target.
"""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import HttpBearer

from . import access
from .tokens import user_for_token


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
