"""AWS Support in the engineer workspace: cases, pushes, sync runs, and "open a case"."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from spt_portal import access
from spt_portal.admin import AWS_ACCOUNT_ACTIONS, AWS_ACCOUNT_LINKS
from spt_portal.admin_mixins import EvidenceAdminMixin
from spt_portal.models import Customer, CustomerAWSAccount
from tickets.admin import register_ticket_link
from tickets.models import Ticket

from . import health, onboarding, support
from .forms import CaseCreateForm
from .models import CasePush, HealthEvent, HealthEventCustomer, SupportCase, SyncRun


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
            path(
                "cloudformation/<int:account_id>/",
                self.admin_site.admin_view(cloudformation_view),
                name="aws_integrations_cloudformation",
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


def _pending_pushes_link(request, ticket):
    """Replies not yet at AWS (waiting to be sent or given up), on the case's ticket."""
    if not ticket.aws_case_id:
        return None
    counts = dict(
        CasePush.objects.filter(comment__ticket=ticket)
        .exclude(status=CasePush.Status.SENT)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    waiting, failed = counts.get(CasePush.Status.PENDING, 0), counts.get(CasePush.Status.FAILED, 0)
    if not waiting and not failed:
        return None
    if failed:
        label = ngettext(
            "%(n)d reply not sent to AWS (failed)", "%(n)d replies not sent to AWS (failed)", failed
        ) % {"n": failed}
    else:
        label = ngettext(
            "%(n)d reply waiting to reach AWS", "%(n)d replies waiting to reach AWS", waiting
        ) % {"n": waiting}
    url = reverse("admin:aws_integrations_casepush_changelist")
    return label, f"{url}?q={ticket.number}"


register_ticket_link(_pending_pushes_link)


@admin.register(CasePush)
class CasePushAdmin(admin.ModelAdmin):
    list_display = ["comment", "case", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status"]
    search_fields = ["=comment__ticket__number", "=case__case_id"]
    readonly_fields = [f.name for f in CasePush._meta.fields if f.name != "id"]

    def has_add_permission(self, request):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(EvidenceAdminMixin, admin.ModelAdmin):
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


# --- onboarding on the customer AWS account page ---------------------------------------


def test_connection_action(modeladmin, request, queryset):
    for account in queryset.select_related("customer"):
        ok, message = onboarding.test_connection(account)
        modeladmin.message_user(
            request, f"{account.account_id}: {message}", messages.SUCCESS if ok else messages.ERROR
        )


test_connection_action.short_description = _("Test the connection (assume role, Support API)")
test_connection_action.allowed_permissions = ("view",)


def _template_link(account):
    return (
        reverse("admin:aws_integrations_cloudformation", args=[account.pk]),
        gettext("CloudFormation template"),
    )


AWS_ACCOUNT_ACTIONS.append(test_connection_action)
AWS_ACCOUNT_LINKS.append(_template_link)


def cloudformation_view(request, account_id):
    """The onboarding template for one account (staff; it holds no secret)."""
    account = get_object_or_404(
        CustomerAWSAccount.objects.select_related("customer"), pk=account_id
    )
    response = HttpResponse(
        onboarding.cloudformation_json(account), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="spt-portal-{account.account_id}.json"'
    return response


class HealthEventCustomerInline(admin.TabularInline):
    model = HealthEventCustomer
    extra = 0
    fields = ["customer", "ticket", "notified_at", "closed_notice_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


CHECKLIST = [
    "assessed",
    "customers_contacted",
    "mitigation_advised",
    "resources_recovered",
    "summary_written",
]


class NotifyCustomersForm(forms.Form):
    customers = forms.ModelMultipleChoiceField(
        label=_("Customers to notify"),
        queryset=Customer.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, event, **kwargs):
        super().__init__(*args, **kwargs)
        already = event.customers.values_list("customer_id", flat=True)
        self.fields["customers"].queryset = (
            Customer.objects.filter(is_active=True, aws_accounts__health_enabled=True)
            .exclude(pk__in=already)
            .distinct()
            .order_by("name")
        )


@admin.register(HealthEvent)
class HealthEventAdmin(admin.ModelAdmin):
    """Each event with its affected customers and resources, and the follow-up checklist
    (seed 000: assess, contact customers, advise, confirm recovery, write up)."""

    list_display = [
        "service",
        "event_type_code",
        "category",
        "region",
        "status",
        "last_updated_time",
        "last_customer_update_at",
        "ticket",
    ]
    list_filter = ["status", "category", "service"]
    list_select_related = ["ticket"]
    search_fields = ["arn", "event_type_code", "service"]
    inlines = [HealthEventCustomerInline]
    fieldsets = [
        (_("Follow-up"), {"fields": CHECKLIST}),
        (
            _("Event"),
            {
                "fields": [
                    "arn",
                    "service",
                    "event_type_code",
                    "category",
                    "region",
                    "scope",
                    "status",
                    "start_time",
                    "end_time",
                    "last_updated_time",
                    "description",
                    "affected_accounts",
                    "affected_entities",
                    "ticket",
                    "last_customer_update_at",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in HealthEvent._meta.fields if f.name not in ["id", *CHECKLIST]]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:event_id>/notify/",
                self.admin_site.admin_view(self.notify_view),
                name="aws_integrations_healthevent_notify",
            ),
            *super().get_urls(),
        ]

    def notify_view(self, request, event_id):
        event = get_object_or_404(HealthEvent, pk=event_id)
        if not access.is_engineer_or_manager(request.user):
            raise PermissionDenied
        form = NotifyCustomersForm(request.POST or None, event=event)
        if request.method == "POST" and form.is_valid():
            told = health.notify_customers(
                event=event, customers=list(form.cleaned_data["customers"]), actor=request.user
            )
            messages.success(request, gettext("%(count)d customers notified.") % {"count": told})
            return redirect(reverse("admin:aws_integrations_healthevent_change", args=[event.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Notify customers of %(event)s") % {"event": event},
            "submit_label": gettext("Notify"),
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "admin/aws_integrations/open_case.html", context)


def _event_of(ticket):
    # A Health event's own ticket carries its ARN: any other ticket needs no query.
    if not ticket.aws_health_event_arn:
        return None
    return HealthEvent.objects.filter(ticket=ticket).first()


def _health_event_links(request, ticket):
    event = _event_of(ticket)
    if event is None:
        return None
    return (
        gettext("AWS Health event: follow-up"),
        reverse("admin:aws_integrations_healthevent_change", args=[event.pk]),
    )


def _notify_link(request, ticket):
    if not access.is_engineer_or_manager(request.user):
        return None
    event = _event_of(ticket)
    if event is None:
        return None
    return (
        gettext("Notify customers"),
        reverse("admin:aws_integrations_healthevent_notify", args=[event.pk]),
    )


register_ticket_link(_health_event_links)
register_ticket_link(_notify_link)


@admin.register(HealthEventCustomer)
class HealthEventCustomerAdmin(admin.ModelAdmin):
    list_display = ["event", "customer", "ticket", "notified_at", "closed_notice_at"]
    list_select_related = ["event", "customer", "ticket"]
    readonly_fields = ["event", "customer", "ticket", "notified_at", "closed_notice_at"]

    def has_add_permission(self, request):
        return False
