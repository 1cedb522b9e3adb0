"""The engineer queue's rows written directly.

Django's changelist renders each cell through ``items_for_result`` (field look-up, display
helpers, one ``format_html`` per cell): about half of the queue's time at 100 rows. The
queue's columns are fixed, so its rows are written here with the same markup (a test
compares the two outputs). Any other shape of the list (a popup, other columns) is left
to Django.
"""

from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    result_headers,
    result_list,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

COLUMNS = [  # action_checkbox, then TicketAdmin.list_display
    "action_checkbox",
    "number",
    "customer_short",
    "title",
    "priority_badge",
    "status",
    "assignee",
    "sla_badge",
    "updated_at",
]
LINKS = ["number", "title"]
_MARKER = 2147483647  # an id no ticket has: replaced by each row's id in the change URL


def _text(value, empty: str) -> str:
    """A value as the changelist shows it, escaped."""
    if value is None:
        return empty
    if isinstance(value, str) and not value.strip():
        return ""
    return conditional_escape(value)


def queue_rows(cl) -> list[ResultList] | None:
    """The rows of the plain queue, or None when the list has another shape."""
    admin = cl.model_admin
    if (
        cl.is_popup
        or cl.formset
        or cl.to_field
        or list(cl.list_display) != COLUMNS
        or list(cl.list_display_links or []) != LINKS
    ):
        return None
    empty = conditional_escape(admin.get_empty_value_display())
    opts = cl.opts
    url = reverse(
        f"admin:{opts.app_label}_{opts.model_name}_change",
        args=[_MARKER],
        current_app=admin.admin_site.name,
    )
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": opts}, url)
    head, tail = (conditional_escape(part) for part in url.split(str(_MARKER), 1))
    statuses = dict(opts.get_field("status").flatchoices)
    rows = []
    for ticket in cl.result_list:
        href = f"{head}{ticket.pk}{tail}"
        updated = (
            formats.localize(timezone.template_localtime(ticket.updated_at))
            if ticket.updated_at
            else None
        )
        cells = (
            f'<td class="action-checkbox">{admin.action_checkbox(ticket)}</td>'
            f'<th class="field-number"><a href="{href}">{_text(ticket.number, empty)}</a></th>'
            f'<td class="field-customer_short">{_text(admin.customer_short(ticket), empty)}</td>'
            f'<td class="field-title"><a href="{href}">{_text(ticket.title, empty)}</a></td>'
            f'<td class="field-priority_badge">{admin.priority_badge(ticket)}</td>'
            f'<td class="field-status">{_text(statuses.get(ticket.status, empty), empty)}</td>'
            f'<td class="field-assignee nowrap">{_text(ticket.assignee, empty)}</td>'
            f'<td class="field-sla_badge">{admin.sla_badge(ticket)}</td>'
            f'<td class="field-updated_at nowrap">{_text(updated, empty)}</td>'
        )
        rows.append(ResultList(None, [mark_safe(cells)]))  # noqa: S308 - every part escaped
    return rows


def queue_result_list(cl) -> dict:
    """The context of admin/change_list_results.html: Django's own, with fast rows."""
    rows = queue_rows(cl)
    if rows is None:
        return result_list(cl)
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": [],
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": rows,
    }
