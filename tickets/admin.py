"""The engineer workspace for tickets: the changelist is the queue.

Every change goes through tickets.services: the change form routes status, priority and
assignee changes to their services (validated in the form, so a bad transition is a form
error), bulk actions call the same services, and the reply form on the change page adds
public replies or internal notes.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sla.models import Priority
from spt_portal import access
from spt_portal.admin_mixins import (
    EstimatedCountPaginator,
    EvidenceAdminMixin,
    FastActionCheckboxMixin,
)
from spt_portal.inputs import row_id
from spt_portal.models import User

from . import admin_queue, knowledge, selectors, services
from .forms import MultipleFileField
from .models import (
    Article,
    Attachment,
    Comment,
    CommentSource,
    InboundEmail,
    Source,
    Status,
    Ticket,
    Visibility,
)
from .sla import format_left, ticket_sla

# Higher apps add links to the ticket page here (e.g. "Open an AWS Support case"):
# callables (request, ticket) -> (label, url) or None. Registered from their admin modules.
TICKET_LINKS: list = []


def register_ticket_link(link) -> None:
    if link not in TICKET_LINKS:
        TICKET_LINKS.append(link)


class AssigneeFilter(admin.SimpleListFilter):
    title = _("assignee")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        engineers = User.objects.filter(
            is_staff=True, is_active=True, groups__name__in=["engineer", "manager"]
        ).distinct()
        return [("mine", _("Mine")), ("none", _("Unassigned"))] + [
            (str(u.pk), u.get_full_name()) for u in engineers.order_by("full_name", "email")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if row_id(value):
            return queryset.filter(assignee_id=row_id(value))
        return queryset


class BreachingSoonFilter(admin.SimpleListFilter):
    title = _("SLA")
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [("1h", _("Breaching within 1 h")), ("breached", _("Breached, still open"))]

    def queryset(self, request, queryset):
        from django.db.models import Q

        now = timezone.now()
        open_tickets = queryset.filter(status__in=[Status.NEW, Status.IN_PROGRESS])
        response_due = Q(first_responded_at__isnull=True)
        if self.value() == "1h":
            soon = now + timedelta(hours=1)
            return open_tickets.filter(
                (response_due & Q(first_response_due_at__gt=now, first_response_due_at__lte=soon))
                | Q(resolution_due_at__gt=now, resolution_due_at__lte=soon)
            )
        if self.value() == "breached":
            return open_tickets.filter(
                (response_due & Q(first_response_due_at__lte=now)) | Q(resolution_due_at__lte=now)
            )
        return queryset


class TagsField(forms.CharField):
    """Tags typed as "billing, ec2" and stored as a list."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        return sorted({tag.strip() for tag in (value or "").split(",") if tag.strip()})


class TicketAdminForm(forms.ModelForm):
    tags = TagsField(label=_("tags"), required=False, help_text=_("Comma-separated."))

    class Meta:
        model = Ticket
        fields = [
            "customer",
            "requester",
            "title",
            "description",
            "category",
            "tags",
            "status",
            "priority",
            "assignee",
            "source",
            "cc_contacts",
        ]

    def clean_status(self):
        status = self.cleaned_data["status"]
        if self.instance.pk:
            try:
                services.check_transition(ticket=self.instance, status=status)
            except services.TicketError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return status

    def clean_assignee(self):
        assignee = self.cleaned_data.get("assignee")
        if assignee is not None and not access.is_engineer_or_manager(assignee):
            raise forms.ValidationError(
                gettext("Tickets can only be assigned to engineers or managers.")
            )
        return assignee

    def clean(self):
        cleaned = super().clean()
        customer, requester = cleaned.get("customer"), cleaned.get("requester")
        # The requester and the CC contacts are emailed every public reply: another
        # customer's people must never be. (The customer is read-only once the ticket exists.)
        customer_id = customer.pk if customer else self.instance.customer_id
        if customer_id is None:
            return cleaned
        if requester and requester.customer_id not in (None, customer_id):
            self.add_error("requester", gettext("The requester does not belong to this customer."))
        others = [
            person
            for person in cleaned.get("cc_contacts") or []
            if person.customer_id not in (None, customer_id)
        ]
        if others:
            self.add_error(
                "cc_contacts",
                gettext("%(people)s do not belong to this ticket's customer.")
                % {"people": ", ".join(person.email for person in others)},
            )
        return cleaned


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 5}))
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=Visibility.choices,
        initial=Visibility.PUBLIC,
        widget=forms.RadioSelect,
    )
    attachments = MultipleFileField(label=_("Attachments"))


class AttachmentInline(admin.TabularInline):
    """Every file on the ticket; the conversation above shows them in context."""

    model = Attachment
    extra = 0
    fields = ["filename", "size", "comment", "uploaded_by", "created_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("attachments")

    def get_queryset(self, request):
        # The read-only comment and uploader are shown as links named by str(): without
        # this, three queries a file (the comment, its ticket, the uploader).
        return super().get_queryset(request).select_related("comment__ticket", "uploaded_by")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(FastActionCheckboxMixin, admin.ModelAdmin):
    form = TicketAdminForm
    # 100,000 tickets: no COUNT(*) over all of them per page view (bench/README.md).
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    view_on_site = False  # the portal page is for customers

    class Media:
        css = {"all": ["spt_portal/admin.css"]}

    change_form_template = "admin/tickets/ticket/change_form.html"
    # The queue's rows are written by admin_queue, for exactly these columns.
    list_display = admin_queue.COLUMNS[1:]
    list_display_links = admin_queue.LINKS
    list_filter = [
        "status",
        "priority",
        AssigneeFilter,
        BreachingSoonFilter,
        "source",
        # All customers (a short table), not "customers that have tickets": that is a
        # DISTINCT over every ticket on each page view.
        "customer",
    ]
    list_select_related = ["customer", "assignee"]
    list_per_page = 100
    search_fields = ["=number", "title", "customer__name", "customer__short_code"]
    ordering = ["-updated_at"]
    date_hierarchy = None
    # Search boxes, not lists: a select of every engineer cost ~6 ms a page to render.
    autocomplete_fields = ["customer", "requester", "cc_contacts", "assignee"]
    inlines = [AttachmentInline]
    actions = [
        "assign_to_me",
        "mark_in_progress",
        "mark_waiting_customer",
        "mark_resolved",
        "mark_closed",
        "set_priority_critical",
        "set_priority_high",
        "set_priority_medium",
        "set_priority_low",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "customer",
                    "requester",
                    "requester_email_status",
                    "title",
                    "description",
                    "category",
                    "tags",
                ]
            },
        ),
        (
            _("Handling"),
            {"fields": ["status", "priority", "assignee", "source", "cc_contacts", "follow_up_of"]},
        ),
        (
            _("SLA"),
            {
                "fields": [
                    "sla_summary",
                    "sla_policy",
                    "first_response_due_at",
                    "first_responded_at",
                    "resolution_due_at",
                    "resolved_at",
                    "closed_at",
                    "escalation_level",
                ]
            },
        ),
        (
            _("AWS"),
            {
                "classes": ["collapse"],
                "fields": [
                    "aws_case_id",
                    "aws_case_status",
                    "aws_case_subject",
                    "aws_case_severity",
                    "aws_health_event_arn",
                ],
            },
        ),
    ]
    SERVICE_MANAGED = [
        "follow_up_of",
        "requester_email_status",
        "sla_summary",
        "sla_policy",
        "first_response_due_at",
        "first_responded_at",
        "resolution_due_at",
        "resolved_at",
        "closed_at",
        "escalation_level",
        "aws_case_id",
        "aws_case_status",
        "aws_case_subject",
        "aws_case_severity",
        "aws_health_event_arn",
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not (obj.aws_case_id or obj.aws_health_event_arn):
            # No AWS case or Health event: no empty AWS section.
            fieldsets = [f for f in fieldsets if f[0] != _("AWS")]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.SERVICE_MANAGED)
        if obj is not None:
            readonly += ["customer", "source"]
        else:
            readonly += ["status"]
        return readonly

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("source", Source.PHONE)  # an engineer logging a call
        initial.setdefault("assignee", request.user.pk)
        return initial

    @admin.display(description=_("customer"), ordering="customer__short_code")
    def customer_short(self, obj):
        return obj.customer.short_code if obj.customer_id else gettext("internal")

    @admin.display(description=_("priority"), ordering="priority")
    def priority_badge(self, obj):
        return format_html(
            '<span class="spt-priority spt-priority-{}">{}</span>',
            obj.priority,
            obj.get_priority_display(),
        )

    @admin.display(description=_("SLA"))
    def sla_badge(self, obj):
        sla = ticket_sla(obj)
        clock = gettext("response") if sla.clock == "response" else gettext("resolution")
        return format_html(
            '<span class="spt-sla spt-sla-{}" title="{}">{} {} · {}</span>',
            sla.state,
            clock,
            sla.icon,
            sla.label,
            format_left(sla.left),
        )

    @admin.display(description=_("requester's email"))
    def requester_email_status(self, obj):
        if not obj.requester_id:
            return "—"
        if obj.requester.email_bounced_at:
            return format_html(
                '<strong class="spt-sla spt-sla-breached">✗ {}</strong>',
                gettext("Delivery failed (bounced %(date)s)")
                % {"date": timezone.localtime(obj.requester.email_bounced_at).strftime("%Y-%m-%d")},
            )
        return gettext("Deliverable")

    @admin.display(description=_("SLA state"))
    def sla_summary(self, obj):
        if not obj.pk:
            return "—"
        return self.sla_badge(obj)

    # --- saving goes through the services --------------------------------------------
    def save_model(self, request, obj, form, change):
        if not change:
            ticket = services.ticket_create(
                customer=form.cleaned_data.get("customer"),
                requester=form.cleaned_data.get("requester"),
                title=form.cleaned_data["title"],
                description=form.cleaned_data.get("description", ""),
                priority=form.cleaned_data["priority"],
                source=form.cleaned_data.get("source") or Source.PHONE,
                category=form.cleaned_data.get("category"),
                actor=request.user,
            )
            assignee = form.cleaned_data.get("assignee")
            if assignee and assignee != ticket.assignee:
                services.ticket_assign(ticket=ticket, assignee=assignee, actor=request.user)
            obj.pk = ticket.pk
            obj.number = ticket.number
            obj._state.adding = False
            return
        changed = set(form.changed_data)
        with transaction.atomic():
            details = {
                name: form.cleaned_data[name] for name in services.DETAIL_FIELDS if name in changed
            }
            if details:
                services.ticket_update_details(ticket=obj, actor=request.user, **details)
            if "priority" in changed:
                services.ticket_change_priority(
                    ticket=obj, priority=form.cleaned_data["priority"], actor=request.user
                )
            if "assignee" in changed:
                services.ticket_assign(
                    ticket=obj, assignee=form.cleaned_data["assignee"], actor=request.user
                )
            if "requester" in changed:
                Ticket.objects.filter(pk=obj.pk).update(requester=form.cleaned_data["requester"])
            if "status" in changed:
                services.ticket_change_status(
                    ticket=obj, status=form.cleaned_data["status"], actor=request.user
                )

    # --- bulk actions --------------------------------------------------------------
    def _bulk(self, request, queryset, change, done_message):
        done, failed = 0, []
        for ticket in queryset:
            try:
                change(ticket)
                done += 1
            except services.TicketError as exc:
                failed.append(f"{ticket.number}: {exc}")
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        self._bulk(
            request,
            queryset,
            lambda t: services.ticket_assign(ticket=t, assignee=request.user, actor=request.user),
            gettext("%(count)d tickets assigned to you."),
        )

    def _status_action(self, request, queryset, status):
        self._bulk(
            request,
            queryset,
            lambda t: services.ticket_change_status(ticket=t, status=status, actor=request.user),
            gettext("%(count)d tickets updated."),
        )

    @admin.action(description=_("Set status: in progress"), permissions=["change"])
    def mark_in_progress(self, request, queryset):
        self._status_action(request, queryset, Status.IN_PROGRESS)

    @admin.action(description=_("Set status: waiting for customer"), permissions=["change"])
    def mark_waiting_customer(self, request, queryset):
        self._status_action(request, queryset, Status.WAITING_CUSTOMER)

    @admin.action(description=_("Set status: resolved"), permissions=["change"])
    def mark_resolved(self, request, queryset):
        self._status_action(request, queryset, Status.RESOLVED)

    @admin.action(description=_("Set status: closed"), permissions=["change"])
    def mark_closed(self, request, queryset):
        self._status_action(request, queryset, Status.CLOSED)

    def _priority_action(self, request, queryset, priority):
        self._bulk(
            request,
            queryset,
            lambda t: services.ticket_change_priority(
                ticket=t, priority=priority, actor=request.user
            ),
            gettext("%(count)d tickets updated."),
        )

    @admin.action(description=_("Set priority: critical"), permissions=["change"])
    def set_priority_critical(self, request, queryset):
        self._priority_action(request, queryset, Priority.CRITICAL)

    @admin.action(description=_("Set priority: high"), permissions=["change"])
    def set_priority_high(self, request, queryset):
        self._priority_action(request, queryset, Priority.HIGH)

    @admin.action(description=_("Set priority: medium"), permissions=["change"])
    def set_priority_medium(self, request, queryset):
        self._priority_action(request, queryset, Priority.MEDIUM)

    @admin.action(description=_("Set priority: low"), permissions=["change"])
    def set_priority_low(self, request, queryset):
        self._priority_action(request, queryset, Priority.LOW)

    def has_delete_permission(self, request, obj=None):
        # Tickets are evidence (SPT-003): they are closed, never deleted from the workspace.
        return False

    # --- the conversation and reply form on the change page ------------------------
    def get_urls(self):
        return [
            path(
                "<int:ticket_id>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="tickets_ticket_reply",
            ),
            path(
                "<int:ticket_id>/write-up/",
                self.admin_site.admin_view(self.write_up_view),
                name="tickets_ticket_write_up",
            ),
            *super().get_urls(),
        ]

    def get_object(self, request, object_id, from_field=None):
        # change_view reads the ticket for the conversation, then Django's view reads it
        # again: once per request is enough.
        key = (object_id, from_field)
        cache = request.__dict__.setdefault("_spt_ticket_objects", {})
        if key not in cache:
            cache[key] = super().get_object(request, object_id, from_field)
        return cache[key]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self.get_object(request, object_id)
        extra = extra_context or {}
        if ticket is not None:
            extra.update(
                {
                    # Read when the page is rendered, not for a save that redirects.
                    "conversation": lambda: selectors.conversation(
                        user=request.user, ticket=ticket
                    )[0],
                    "timeline": selectors.events_visible_to(user=request.user, ticket=ticket),
                    "reply_form": ReplyForm(),
                    "reply_url": reverse("admin:tickets_ticket_reply", args=[ticket.pk]),
                    "can_reply": self.has_change_permission(request, ticket),
                    "ticket_links": [
                        link for link in (make(request, ticket) for make in TICKET_LINKS) if link
                    ],
                }
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def write_up_view(self, request, ticket_id):
        """Write up a ticket in the knowledge base: a draft internal article to edit."""
        ticket = get_object_or_404(Ticket, pk=ticket_id)
        if not access.is_engineer_or_manager(request.user):
            raise PermissionDenied
        if request.method == "POST":
            article = knowledge.article_from_ticket(ticket=ticket, actor=request.user)
            self.message_user(request, gettext("Draft article created; edit and publish it."))
            return redirect(reverse("admin:tickets_article_change", args=[article.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Write up %(number)s in the knowledge base")
            % {"number": ticket.number},
            "ticket": ticket,
            "opts": self.model._meta,
        }
        return render(request, "admin/tickets/ticket/write_up.html", context)

    def reply_view(self, request, ticket_id):
        ticket = get_object_or_404(Ticket, pk=ticket_id)
        if request.method != "POST" or not self.has_change_permission(request, ticket):
            raise PermissionDenied
        form = ReplyForm(request.POST, request.FILES)
        change_url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, error, messages.ERROR)
            return redirect(change_url)
        try:
            services.comment_add(
                ticket=ticket,
                author=request.user,
                body=form.cleaned_data["body"],
                visibility=form.cleaned_data["visibility"],
                source=CommentSource.ADMIN,
                attachments=form.cleaned_data["attachments"],
            )
        except services.TicketError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("Internal note added.")
                if form.cleaned_data["visibility"] == Visibility.INTERNAL
                else gettext("Public reply sent."),
                messages.SUCCESS,
            )
        return redirect(change_url)


def _write_up_link(request, ticket):
    if not access.is_engineer_or_manager(request.user):
        return None
    if ticket.status not in (Status.RESOLVED, Status.CLOSED) and ticket.source != Source.AWS_HEALTH:
        return None
    return (
        gettext("Write up in the knowledge base"),
        reverse("admin:tickets_ticket_write_up", args=[ticket.pk]),
    )


register_ticket_link(_write_up_link)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "visibility", "is_published", "language", "category", "updated_at"]
    list_filter = ["visibility", "is_published", "language", "category"]
    search_fields = ["title", "body"]
    readonly_fields = ["source_ticket", "created_by", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Comment)
class CommentAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = ["ticket", "display_author", "visibility", "source", "created_at"]
    list_filter = ["visibility", "source"]
    list_select_related = ["ticket", "author"]
    search_fields = ["ticket__number", "body"]


@admin.register(InboundEmail)
class InboundEmailAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    """Every message received by email and what became of it, with the reason."""

    list_display = ["received_at", "sender", "subject", "outcome", "reason", "ticket"]
    list_filter = ["outcome"]
    list_select_related = ["ticket"]
    search_fields = ["sender", "subject", "message_id", "ses_message_id"]
