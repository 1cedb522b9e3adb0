from django import template
from django.utils.translation import gettext, ngettext

register = template.Library()


@register.filter
def minutes_text(value) -> str:
    """15 -> "15 minutes", 60 -> "1 hour", 90 -> "1 h 30 min", 4320 -> "72 hours"."""
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return ngettext("%(n)d minute", "%(n)d minutes", rest) % {"n": rest}
    if not rest:
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    return gettext("%(h)d h %(m)d min") % {"h": hours, "m": rest}


@register.filter
def markdown(value) -> str:
    """Markdown rendered to sanitised HTML (``spt_portal.markup``)."""
    from django.utils.safestring import mark_safe

    from spt_portal.markup import render_markdown

    return mark_safe(render_markdown(str(value or "")))  # noqa: S308 - nh3-cleaned


PRIORITY_BADGE = {
    "critical": "text-bg-danger",
    "high": "text-bg-warning",
    "medium": "text-bg-info",
}
STATUS_BADGE = {
    "new": "text-bg-primary",
    "in_progress": "text-bg-info",
    "waiting_customer": "text-bg-warning",
    "resolved": "text-bg-success",
}


@register.simple_tag
def priority_badge(ticket) -> str:
    """A ticket's priority as a badge (a tag, not an include: list pages show one a row)."""
    from django.utils.html import format_html

    css = PRIORITY_BADGE.get(ticket.priority, "text-bg-light border")
    return format_html(
        '<span class="badge rounded-pill {}">{}</span>', css, ticket.get_priority_display()
    )


@register.simple_tag
def status_badge(ticket) -> str:
    """A ticket's status as a badge."""
    from django.utils.html import format_html

    css = STATUS_BADGE.get(ticket.status, "text-bg-secondary")
    return format_html('<span class="badge {}">{}</span>', css, ticket.get_status_display())
