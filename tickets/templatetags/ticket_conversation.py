"""A ticket's conversation, written in Python: on the engineer's and the customer's ticket
pages alike.

A ticket page shows every comment; written as a template loop, each comment cost ~0.25 ms
(the ``date`` filter, ``linebreaksbr``, the attachment lines and the template engine's own
per-node work): 13 ms of a 50-comment admin page (bench/README.md). Here the same markup
costs a few hundredths of a millisecond a comment. The callers pass comments that are
already the reader's to see, each with the files the reader may see on it in
``shown_attachments`` (``selectors.conversation``): nothing is filtered here.
"""

from django import template
from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from tickets.models import CommentSource

register = template.Library()


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _attachments(comment, css: str) -> str:
    label = escape(gettext("Attachment"))
    return "".join(
        format_html(
            '<div class="{}">{}: <a href="{}">{}</a> ({})</div>',
            css,
            label,
            reverse("portal:attachment", args=[attachment.pk]),
            attachment.filename,
            filesizeformat(attachment.size),
        )
        # Not comment.attachments: that is every file, staff-only ones included.
        for attachment in comment.shown_attachments
    )


@register.simple_tag
def admin_conversation(comments) -> str:
    """The conversation on the admin ticket page: internal notes marked as such."""
    internal, public = escape(gettext("Internal note")), escape(gettext("Public reply"))
    # get_source_display() translates every choice on each call: once here instead.
    sources = {value: str(label) for value, label in CommentSource.choices}
    parts = []
    for comment in comments:
        is_internal = comment.visibility == "internal"
        parts.append(
            format_html(
                '<div class="spt-comment {}" data-visibility="{}">'
                '<div class="spt-comment-head"><strong>{}</strong> {} '
                '<span class="spt-muted">{} · {}</span></div>'
                '<div class="spt-comment-body">{}</div>{}</div>',
                "spt-internal" if is_internal else "spt-public",
                comment.visibility,
                comment.display_author,
                mark_safe(  # noqa: S308 - both labels were escaped above
                    f'<span class="spt-tag spt-tag-internal">{internal}</span>'
                    if is_internal
                    else f'<span class="spt-tag">{public}</span>'
                ),
                sources.get(comment.source, comment.source),
                _local(comment.created_at),
                linebreaksbr(comment.body, autoescape=True),
                mark_safe(_attachments(comment, "spt-muted")),  # noqa: S308 - format_html
            )
        )
    if not parts:
        return format_html('<p class="spt-muted">{}</p>', gettext("No replies yet."))
    return mark_safe("\n".join(parts))  # noqa: S308 - each part is format_html's


@register.simple_tag
def portal_conversation(comments) -> str:
    """The conversation on the customer's ticket page (public replies only reach it)."""
    engineer = escape(gettext("Support engineer"))
    parts = []
    for comment in comments:
        staff = comment.author_id is not None and comment.author.is_staff
        local = timezone.localtime(comment.created_at)
        parts.append(
            format_html(
                '<div class="card mb-2{}">'
                '<div class="card-header small d-flex justify-content-between">'
                "<span><strong>{}</strong>{}</span>"
                '<time datetime="{}">{}</time></div>'
                '<div class="card-body"><div style="white-space: pre-wrap">{}</div>{}</div>'
                "</div>",
                " border-primary" if staff or comment.source == "aws" else "",
                comment.display_author,
                mark_safe(f" · {engineer}" if staff else ""),  # noqa: S308 - escaped above
                local.isoformat(),
                local.strftime("%Y-%m-%d %H:%M"),
                comment.body,
                mark_safe(_attachments(comment, "small mt-2")),  # noqa: S308 - format_html
            )
        )
    if not parts:
        return format_html('<p class="text-muted">{}</p>', gettext("No replies yet."))
    return mark_safe("\n".join(parts))  # noqa: S308 - each part is format_html's
