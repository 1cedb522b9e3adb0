"""Postmortems are written on /ops/postmortems/; the workspace lists them and the action
items (filter by owner, status, priority) for reference, each row linking to the editor."""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from spt_portal.admin_mixins import EvidenceAdminMixin

from .models import ActionItem, PostMortem


@admin.register(PostMortem)
class PostMortemAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "title", "status", "meeting_at", "published_at", "editor_link"]
    list_filter = ["status", "incident__level"]
    list_select_related = ["incident"]
    search_fields = ["=incident__number", "title"]

    @admin.display(description=_("editor"))
    def editor_link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), gettext("Open"))

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ActionItem)
class ActionItemAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = ["title", "owner", "due_date", "priority", "status", "postmortem_link"]
    list_filter = ["status", "priority", "owner"]
    list_select_related = ["owner", "postmortem__incident"]
    search_fields = ["title", "=postmortem__incident__number"]

    @admin.display(description=_("postmortem"))
    def postmortem_link(self, obj):
        return format_html(
            '<a href="{}#actions">{}</a>',
            obj.postmortem.get_absolute_url(),
            obj.postmortem.incident.number,
        )

    def has_change_permission(self, request, obj=None):
        return False
