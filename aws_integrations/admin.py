"""AWS Support in the engineer workspace: cases, pushes, sync runs, and "open a case"."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext

from spt_portal import access
from tickets.admin import register_ticket_link
from tickets.models import Ticket

from . import support
from .forms import CaseCreateForm
from .models import CasePush, SupportCase, SyncRun


@admin.register(SupportCase)
class SupportCaseAdmin(admin.ModelAdmin):
    list_display = [
        "display_id",
        "case_id",
        "account",
        "ticket",
        "status",
        "severity_code",
        "last_synced_at",
    ]
    list_filter = ["status", "severity_code"]
    list_select_related = ["account", "ticket"]
    search_fields = ["case_id", "display_id", "ticket__number"]
    readonly_fields = [f.name for f in SupportCase._meta.fields if f.name != "id"]

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path(
                "open/<int:ticket_id>/",
                self.admin_site.admin_view(self.open_case_view),
                name="aws_integrations_open_case",
            ),
            *super().get_urls(),
        ]

    def open_case_view(self, request, ticket_id):
        """Open an AWS Support case for a ticket (engineers and managers)."""
        ticket = get_object_or_404(Ticket.objects.select_related("customer"), pk=ticket_id)
        if not access.is_engineer_or_manager(request.user) or ticket.customer_id is None:
            raise PermissionDenied
        initial = {
            "severity": support.severity_for(ticket.priority, "business"),
            "language": "zh" if ticket.customer.default_language == "zh-hans" else "en",
            "subject": ticket.title[:250],
            "body": ticket.description,
        }
        form = CaseCreateForm(request.POST or None, initial=initial, ticket=ticket)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                support.case_create(
                    ticket=ticket,
                    account=data["account"],
                    service_code=data["service_code"],
                    category_code=data["category_code"],
                    severity=data["severity"],
                    language=data["language"],
                    subject=data["subject"],
                    body=data["body"],
                    actor=request.user,
                )
            except (support.SupportError, ValueError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("AWS Support case opened."))
                return redirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Open an AWS Support case for %(number)s") % {"number": ticket.number},
            "form": form,
            "ticket": ticket,
            "opts": self.model._meta,
        }
        return render(request, "admin/aws_integrations/open_case.html", context)


def _open_case_link(request, ticket):
    if (
        ticket.customer_id is None
        or ticket.aws_case_id
        or not access.is_engineer_or_manager(request.user)
    ):
        return None
    return (
        gettext("Open an AWS Support case"),
        reverse("admin:aws_integrations_open_case", args=[ticket.pk]),
    )


register_ticket_link(_open_case_link)


@admin.register(CasePush)
class CasePushAdmin(admin.ModelAdmin):
    list_display = ["comment", "case", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in CasePush._meta.fields if f.name != "id"]

    def has_add_permission(self, request):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "kind",
        "account",
        "outcome",
        "cases_seen",
        "tickets_created",
        "comments_imported",
        "comments_pushed",
        "finished_at",
    ]
    list_filter = ["kind", "outcome"]
    list_select_related = ["account"]
    readonly_fields = [f.name for f in SyncRun._meta.fields if f.name != "id"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
