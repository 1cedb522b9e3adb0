"""SLA policy, calendars and on-call schedules in the engineer workspace.

Policy versions are immutable: "changing" the policy is adding a version (prefilled with
the one in force), which managers may do; existing tickets keep their version.
"""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import oncall
from .models import (
    BusinessCalendar,
    OnCallLayer,
    OnCallLayerMember,
    OnCallSchedule,
    OnCallShift,
    Priority,
    SLAConfig,
    SLAPolicyVersion,
    TierCalendar,
)
from .services import current_policy, sla_policy_create


class PolicyVersionForm(forms.ModelForm):
    class Meta:
        model = SLAPolicyVersion
        fields = ["note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = {t.priority: t for t in current_policy().targets.all()}
        for value, label in Priority.choices:
            target = current.get(value)
            self.fields[f"{value}_response"] = forms.IntegerField(
                label=_("%(priority)s: first response (minutes)") % {"priority": label},
                min_value=1,
                initial=target.response_minutes if target else None,
            )
            self.fields[f"{value}_resolution"] = forms.IntegerField(
                label=_("%(priority)s: resolution (minutes)") % {"priority": label},
                min_value=1,
                initial=target.resolution_minutes if target else None,
            )
            self.fields[f"{value}_description"] = forms.CharField(
                label=_("%(priority)s: description (English)") % {"priority": label},
                max_length=300,
                required=False,
                initial=target.description if target else "",
            )
            self.fields[f"{value}_description_zh_hans"] = forms.CharField(
                label=_("%(priority)s: description (Simplified Chinese)") % {"priority": label},
                max_length=300,
                required=False,
                initial=target.description_zh_hans if target else "",
            )

    def clean(self):
        cleaned = super().clean()
        for value, label in Priority.choices:
            response, resolution = (
                cleaned.get(f"{value}_response"),
                cleaned.get(f"{value}_resolution"),
            )
            if response and resolution and response > resolution:
                self.add_error(
                    f"{value}_response",
                    gettext("%(priority)s: the first response cannot be due after the resolution.")
                    % {"priority": label},
                )
        return cleaned


class SLAConfigInline(admin.TabularInline):
    model = SLAConfig
    extra = 0
    can_delete = False
    fields = [
        "priority",
        "response_minutes",
        "resolution_minutes",
        "description",
        "description_zh_hans",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SLAPolicyVersion)
class SLAPolicyVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created_at", "created_by", "note"]
    inlines = [SLAConfigInline]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = PolicyVersionForm
            kwargs["fields"] = None
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return [(None, {"fields": ["created_at", "created_by", "note"]})]
        return [(None, {"fields": list(PolicyVersionForm().fields)})]

    def get_readonly_fields(self, request, obj=None):
        return ["created_at", "created_by", "note"] if obj is not None else []

    def get_inlines(self, request, obj):
        return [SLAConfigInline] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        # Versions are immutable: their page is read-only; add a new version instead.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        policy = sla_policy_create(
            targets={p: (data[f"{p}_response"], data[f"{p}_resolution"]) for p in Priority.values},
            descriptions={
                p: (data[f"{p}_description"], data[f"{p}_description_zh_hans"])
                for p in Priority.values
            },
            note=data.get("note", ""),
            actor=request.user,
        )
        obj.pk = policy.pk
        obj._state.adding = False
        messages.info(
            request, gettext("New tickets use this version; existing tickets keep theirs.")
        )

    def save_related(self, request, form, formsets, change):
        pass


class TierCalendarInline(admin.TabularInline):
    model = TierCalendar
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "is_24x7",
        "timezone",
        "workday_start",
        "workday_end",
        "holiday_country",
        "is_partner_default",
    ]
    inlines = [TierCalendarInline]


class OnCallLayerMemberInline(admin.TabularInline):
    model = OnCallLayerMember
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(OnCallLayer)
class OnCallLayerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "rotation_start", "handover_time", "shift_hours"]
    inlines = [OnCallLayerMemberInline]


class OnCallLayerInline(admin.TabularInline):
    model = OnCallLayer
    extra = 0
    show_change_link = True


class OnCallShiftInline(admin.TabularInline):
    model = OnCallShift
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "start_time", "end_time", "is_primary", "note"]


@admin.register(OnCallSchedule)
class OnCallScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "is_default", "is_active"]
    inlines = [OnCallLayerInline, OnCallShiftInline]

    def changelist_view(self, request, extra_context=None):
        gaps = oncall.coverage_gaps()
        if gaps:
            start, end = gaps[0]
            messages.warning(
                request,
                gettext(
                    "On-call coverage gap: nobody is on primary call "
                    "from %(start)s to %(end)s%(more)s."
                )
                % {
                    "start": f"{start:%Y-%m-%d %H:%M}",
                    "end": f"{end:%Y-%m-%d %H:%M}",
                    "more": gettext(" (and %(n)d more)") % {"n": len(gaps) - 1}
                    if len(gaps) > 1
                    else "",
                },
            )
        return super().changelist_view(request, extra_context)


@admin.register(OnCallShift)
class OnCallShiftAdmin(admin.ModelAdmin):
    list_display = ["user", "schedule", "start_time", "end_time", "is_primary", "note"]
    list_filter = ["schedule", "is_primary"]
    autocomplete_fields = ["user"]
