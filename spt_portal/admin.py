from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard

from .admin_mixins import EvidenceAdminMixin
from .models import (
    APIToken,
    Customer,
    CustomerAWSAccount,
    CustomerEmailDomain,
    JobOutbox,
    NotificationChannel,
    NotificationLog,
    Skill,
    User,
)
from .outbox import enqueue, waiting
from .tokens import api_token_revoke


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "full_name",
        "customer",
        "is_staff",
        "is_active",
        "email_bounced_at",
        "last_login",
    ]
    list_filter = ["is_staff", "is_active", "groups", "customer"]
    list_select_related = ["customer"]
    search_fields = ["email", "full_name", "phone"]
    autocomplete_fields = ["customer"]
    filter_horizontal = ["groups", "user_permissions", "skills"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (
            _("Profile"),
            {"fields": ["full_name", "preferred_language", "timezone", "phone", "skills"]},
        ),
        (_("Organisation"), {"fields": ["customer", "email_bounced_at"]}),
        (
            _("Access"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "full_name", "customer", "password1", "password2"],
            },
        )
    ]


class CustomerEmailDomainInline(admin.TabularInline):
    model = CustomerEmailDomain
    extra = 1


class CustomerAWSAccountInline(admin.TabularInline):
    model = CustomerAWSAccount
    extra = 0
    fields = ["account_id", "partition", "name", "support_plan", "support_sync_enabled"]
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "short_code", "service_tier", "default_language", "is_active"]
    list_filter = ["service_tier", "is_active", "default_language"]
    search_fields = ["name", "short_code", "email_domains__domain"]
    inlines = [CustomerEmailDomainInline, CustomerAWSAccountInline]


# Higher apps add actions to the AWS account admin (e.g. "test connection"), and links to
# its page (e.g. the onboarding CloudFormation template): registered from their admin.py.
AWS_ACCOUNT_ACTIONS: list = []
AWS_ACCOUNT_LINKS: list = []


@admin.register(CustomerAWSAccount)
class CustomerAWSAccountAdmin(admin.ModelAdmin):
    list_display = [
        "account_id",
        "partition",
        "customer",
        "name",
        "support_plan",
        "support_sync_enabled",
        "health_enabled",
    ]
    list_filter = ["partition", "support_plan", "support_sync_enabled", "health_enabled"]
    list_select_related = ["customer"]
    search_fields = ["account_id", "name", "customer__name", "customer__short_code"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["support_api_error", "health_polled_at", "onboarding"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        for action in AWS_ACCOUNT_ACTIONS:
            actions[action.__name__] = (action, action.__name__, action.short_description)
        return actions

    @admin.display(description=_("onboarding"))
    def onboarding(self, obj):
        if not obj.pk:
            return "—"
        links = [link(obj) for link in AWS_ACCOUNT_LINKS]
        return (
            format_html_join(" · ", '<a href="{}">{}</a>', [link for link in links if link]) or "—"
        )


class WaitingFilter(admin.SimpleListFilter):
    """The rows the dashboard counts as waiting (``outbox.waiting``): not the rows just
    handed over, pending until their worker starts them."""

    title = _("waiting to reach a queue")
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=waiting().values("pk"))
        return queryset


@admin.register(JobOutbox)
class JobOutboxAdmin(admin.ModelAdmin):
    list_display = ["id", "func", "queue", "status", "attempts", "created_at", "dispatched_at"]
    list_filter = [WaitingFilter, "status", "queue"]
    search_fields = ["func", "rq_job_id"]
    readonly_fields = [f.name for f in JobOutbox._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_api_token` (shown once); revoked here."""

    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    search_fields = ["prefix", "user__email", "name"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, _("Tokens revoked."))


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(NotificationLog)
class NotificationLogAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    """Every notification exactly as sent; failed ones can be sent again."""

    list_display = [
        "created_at",
        "channel",
        "recipient",
        "template",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "channel", "template"]
    search_fields = ["recipient", "subject", "message_id"]
    actions = ["send_again"]

    @admin.action(description=_("Send the selected notifications again"), permissions=["change"])
    def send_again(self, request, queryset):
        count = 0
        for log in queryset.exclude(status=NotificationLog.Status.SENT):
            NotificationLog.objects.filter(pk=log.pk).update(status=NotificationLog.Status.PENDING)
            enqueue("spt_portal.jobs.deliver_notification", log.pk, queue="notifications")
            count += 1
        self.message_user(request, _("%(count)d notifications queued again.") % {"count": count})


class RQDashboardAdmin(QueueAdmin):
    """django-rq's dashboard. Its model is a placeholder without a table, so there is never
    an object: a hand-typed object URL (/admin/django_rq/dashboard/1/change/) is answered
    "does not exist" instead of failing on the missing table."""

    def get_object(self, request, object_id, from_field=None):
        return None

    def get_urls(self):
        """django-rq's pages, with two of them answering 404 where they failed with a 500:
        a worker that is gone (a stale link from the workers list) and the rq-scheduler
        page (rq-scheduler is not installed: periodic jobs run in ``rqcron``)."""
        from django.urls import path

        def guarded(view):
            def wrapper(request, *args, **kwargs):
                request.current_app = self.admin_site.name
                return self.admin_site.admin_view(view)(request, *args, **kwargs)

            return wrapper

        return [
            path(
                "workers/<int:queue_index>/<str:key>/",
                guarded(_rq_worker_details),
                name="django_rq_worker_details",
            ),
            path(
                "schedulers/<int:scheduler_index>/",
                guarded(_rq_no_scheduler),
                name="django_rq_scheduler_jobs",
            ),
            *super().get_urls(),
        ]


def _rq_worker_details(request, queue_index: int, key: str):
    from django.http import Http404
    from django_rq import views
    from django_rq.queues import get_queue_by_index
    from rq.worker import Worker

    try:
        queue = get_queue_by_index(queue_index)
    except IndexError as exc:
        raise Http404("no such queue") from exc
    if Worker.find_by_key(key, connection=queue.connection) is None:
        raise Http404("no such worker (it has stopped)")
    return views.worker_details(request, queue_index, key)


def _rq_no_scheduler(request, scheduler_index: int):
    from django.http import Http404

    raise Http404("rq-scheduler is not used: periodic jobs run in the rqcron process")


if admin.site.is_registered(Dashboard):
    admin.site.unregister(Dashboard)
    admin.site.register(Dashboard, RQDashboardAdmin)
