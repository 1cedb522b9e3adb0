"""Admin building blocks shared by the apps."""

from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext


class EvidenceAdminMixin:
    """A record kept as evidence (a log): viewed in the workspace, never added, edited or
    deleted there."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EstimatedCountPaginator(Paginator):
    """Admin lists of large tables: an unfiltered PostgreSQL list takes its row count from
    the planner's statistics (``pg_class.reltuples``, kept fresh by autovacuum) instead
    of ``COUNT(*)`` over every row; filtered lists and small tables count exactly."""

    ESTIMATE_FROM = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] >= self.ESTIMATE_FROM:
                return int(row[0])
        return super().count


class FastActionCheckboxMixin:
    """The action checkbox of each changelist row as one format_html call: Django renders
    it through the form template engine, about 0.4 ms a row (40 ms for 100 rows)."""

    def action_checkbox(self, obj):
        # The same markup and label as Django's (its translation catalog is reused).
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(gettext("Select this object for an action - {}"), str(obj)),
        )
