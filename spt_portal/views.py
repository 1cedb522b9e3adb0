import logging

from axes.helpers import get_client_username
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from . import access, audit
from .models import DocumentVersion, Language

logger = logging.getLogger(__name__)


def home(request):
    """Send each role to its place."""
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect(access.home_url_for(request.user))


@require_POST
def set_language(request):
    """Django's language switcher, which also saves the choice as the user's preference."""
    language = request.POST.get("language", "")
    response = django_set_language(request)
    if (
        request.user.is_authenticated
        and check_for_language(language)
        and language in Language.values
        and request.user.preferred_language != language
    ):
        request.user.preferred_language = language
        request.user.save(update_fields=["preferred_language"])
    if not url_has_allowed_host_and_scheme(
        response.get("Location", "/"),
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return HttpResponseRedirect("/")
    return response


@access.customer_required
def portal_home(request):
    """The customer's home: their organisation, its AWS accounts and its people."""
    customer = request.user.customer
    accounts = access.aws_accounts_visible_to(user=request.user).order_by("account_id")
    contacts = customer.users.filter(is_active=True).order_by("full_name", "email")
    return render(
        request,
        "spt_portal/portal_home.html",
        {"customer": customer, "accounts": accounts, "contacts": contacts},
    )


@access.staff_required
def audit_overview(request):
    """Auditor's overview of SPT-001..006 with live evidence as apps provide it."""
    items = [audit.evidence_for(item.code, request) for item in audit.SPT_ITEMS]
    return render(request, "spt_portal/audit_overview.html", {"items": items})


@access.staff_required
def audit_pack(request):
    """The evidence pack: a zip of dated, self-contained HTML pages that open offline."""
    import io
    import zipfile

    from django.conf import settings
    from django.http import HttpResponse
    from django.template.loader import render_to_string
    from django.utils import timezone
    from django.utils.translation import get_language

    generated = timezone.now()
    common = {"generated": generated, "site_url": settings.SITE_URL, "language": get_language()}
    entries = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in audit.SPT_ITEMS:
            entry = audit.evidence_for(item.code, request)
            filename = f"{item.code}.html"
            entries.append((entry, filename))
            archive.writestr(
                filename,
                render_to_string("spt_portal/audit_pack_item.html", {**common, "entry": entry}),
            )
        archive.writestr(
            "index.html",
            render_to_string("spt_portal/audit_pack_index.html", {**common, "entries": entries}),
        )
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    name = f"spt-evidence-{timezone.localtime(generated):%Y%m%d-%H%M}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@access.staff_required
def audit_item(request, code):
    if code not in audit.SPT_BY_CODE:
        raise Http404
    return render(
        request, "spt_portal/audit_item.html", {"entry": audit.evidence_for(code, request)}
    )


@login_required
def document_list(request):
    from .documents import DOCUMENTS

    versions: dict[str, DocumentVersion] = {}
    for version in DocumentVersion.objects.order_by("slug", "-number"):
        versions.setdefault(version.slug, version)
    docs = [
        {"slug": slug, "title": title, "version": versions.get(slug)}
        for slug, title in DOCUMENTS.items()
    ]
    return render(request, "spt_portal/documents.html", {"documents": docs})


@login_required
def document_detail(request, slug, printable=False):
    from .documents import render as render_document

    try:
        document = render_document(slug)
    except KeyError as exc:
        raise Http404 from exc
    history = (
        DocumentVersion.objects.filter(slug=slug)
        .select_related("created_by")
        .order_by("-number")[:20]
    )
    template = "spt_portal/document_print.html" if printable else "spt_portal/document.html"
    return render(request, template, {"document": document, "history": history})


def locked_out(request, original_response=None, credentials=None):
    """django-axes: too many failed sign-ins for this user from this address (HTTP 429)."""
    username = get_client_username(request, credentials) or request.POST.get("username", "")
    logger.warning(
        "sign-in locked out for %r from %s after %d failures",
        username[:100],
        request.META.get("REMOTE_ADDR", "?"),
        settings.AXES_FAILURE_LIMIT,
    )
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
