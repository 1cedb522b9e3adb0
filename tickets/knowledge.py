"""Knowledge base: search that works for Chinese as well as English, and write-ups.

Chinese has no spaces between words, so full-text search configured for English finds
nothing in it; a substring match does (备份 finds every article that contains it) and
behaves the same on PostgreSQL and SQLite. Each query term must appear (AND); results are
ranked by where the terms appear (title before body), then by freshness.
"""

import re

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from spt_portal import access

from .models import Article, Ticket, Visibility

MAX_TERMS = 6


def articles_visible_to(*, user) -> QuerySet[Article]:
    if access.is_staff_user(user):
        return Article.objects.all()
    return Article.objects.filter(visibility=Article.Visibility.PUBLIC, is_published=True)


def terms_of(query: str) -> list[str]:
    terms = [t for t in re.split(r"[\s,，。;；]+", (query or "").strip()) if t]
    return terms[:MAX_TERMS]


def search(*, user, query: str, limit: int = 20) -> list[Article]:
    articles = articles_visible_to(user=user)
    terms = terms_of(query)
    if not terms:
        return list(articles.select_related("category").order_by("-updated_at")[:limit])
    score = Value(0)
    for term in terms:
        articles = articles.filter(
            Q(title__icontains=term) | Q(body__icontains=term) | Q(tags__icontains=term)
        )
        score = score + Case(
            When(title__icontains=term, then=Value(3)),
            default=Value(0),
            output_field=IntegerField(),
        )
        score = score + Case(
            When(body__icontains=term, then=Value(1)), default=Value(0), output_field=IntegerField()
        )
    return list(
        articles.annotate(score=Coalesce(score, Value(0)))
        .select_related("category")
        .order_by("-score", "-updated_at")[:limit]
    )


def article_from_ticket(*, ticket: Ticket, actor) -> Article:
    """A draft internal article from a resolved ticket: its problem and the public answers."""
    replies = "\n\n".join(
        f"> {c.display_author}:\n\n{c.body}"
        for c in ticket.comments.filter(visibility=Visibility.PUBLIC).select_related("author")
    )
    body = f"## {_('Problem')}\n\n{ticket.description}\n\n## {_('Resolution')}\n\n{replies}"
    return Article.objects.create(
        title=ticket.title,
        body=body,
        category=ticket.category,
        tags=list(ticket.tags),
        visibility=Article.Visibility.INTERNAL,
        is_published=False,
        source_ticket=ticket,
        created_by=actor,
        language=ticket.customer.default_language if ticket.customer_id else "zh-hans",
    )
