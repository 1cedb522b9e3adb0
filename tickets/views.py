"""Customer portal: the organisation's tickets, filing, conversation, confirm and reopen."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sla.models import Priority
from spt_portal.access import customer_required
from spt_portal.markup import render_markdown

from . import knowledge, selectors, services
from .forms import ReplyForm, TicketCreateForm
from .models import CommentSource, Source, Status

PAGE_SIZE = 25


def _ticket_for(request, number):
    # The page shows the requester and the assignee: one query, whoever is set.
    tickets = selectors.tickets_visible_to(user=request.user).select_related(
        "requester", "assignee", "customer"
    )
    return get_object_or_404(tickets, number=number)


@customer_required
def ticket_list(request):
    status = request.GET.get("status", "")
    priority = request.GET.get("priority", "")
    query = request.GET.get("q", "").strip()[:200]
    tickets = selectors.ticket_list_for(
        user=request.user,
        status=status if status in Status.values else "",
        priority=priority if priority in Priority.values else "",
        query=query,
    )
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "tickets/portal_list.html",
        {
            "page": page,
            "status": status,
            "priority": priority,
            "query": query,
            "statuses": Status.choices,
            "priorities": Priority.choices,
        },
    )


@customer_required
def ticket_create(request):
    form = TicketCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.ticket_create(
                customer=request.user.customer,
                requester=request.user,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                priority=form.cleaned_data["priority"],
                category=form.cleaned_data["category"],
                source=Source.WEB,
                attachments=form.cleaned_data["attachments"],
                actor=request.user,
            )
        except services.TicketError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Ticket %(number)s created.") % {"number": ticket.number})
            return redirect(ticket)
    return render(request, "tickets/portal_create.html", {"form": form})


@customer_required
def ticket_detail(request, number):
    ticket = _ticket_for(request, number)
    form = ReplyForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.comment_add(
                ticket=ticket,
                author=request.user,
                body=form.cleaned_data["body"],
                source=CommentSource.WEB,
                attachments=form.cleaned_data["attachments"],
            )
        except services.TicketError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Your reply was added."))
            return redirect(ticket)
    comments, ticket_attachments = selectors.conversation(user=request.user, ticket=ticket)
    return render(
        request,
        "tickets/portal_detail.html",
        {
            "ticket": ticket,
            "comments": comments,
            "ticket_attachments": ticket_attachments,
            "events": selectors.events_visible_to(user=request.user, ticket=ticket),
            "form": form,
            "can_confirm": ticket.status == Status.RESOLVED,
            "can_reopen": ticket.status in (Status.RESOLVED, Status.CLOSED),
        },
    )


@customer_required
@require_POST
def ticket_confirm(request, number):
    ticket = _ticket_for(request, number)
    try:
        services.ticket_confirm_resolved(ticket=ticket, actor=request.user)
    except services.TicketError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Thank you: the ticket is closed."))
    return redirect(ticket)


@customer_required
@require_POST
def ticket_reopen(request, number):
    ticket = _ticket_for(request, number)
    try:
        services.ticket_reopen(
            ticket=ticket, actor=request.user, reason=request.POST.get("reason", "")[:1000]
        )
    except services.TicketError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The ticket is open again."))
    return redirect(ticket)


def attachment_download(request, pk):
    """Attachments are always downloaded, never rendered inline (no stored XSS)."""
    if not request.user.is_authenticated:
        raise Http404
    attachment = get_object_or_404(selectors.attachments_visible_to(user=request.user), pk=pk)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- knowledge base in the portal ---------------------------------------------------------


@login_required
def kb_list(request):
    query = request.GET.get("q", "").strip()[:200]
    return render(
        request,
        "tickets/kb_list.html",
        {"articles": knowledge.search(user=request.user, query=query), "query": query},
    )


@login_required
def kb_detail(request, pk):
    article = get_object_or_404(knowledge.articles_visible_to(user=request.user), pk=pk)
    return render(
        request,
        "tickets/kb_detail.html",
        {"article": article, "body": render_markdown(article.body)},
    )


@login_required
def kb_suggest(request):
    """htmx: articles matching the words of a ticket title as the customer types."""
    title = request.GET.get("title", "").strip()[:200]
    articles = knowledge.search(user=request.user, query=title, limit=5) if len(title) >= 2 else []
    if not articles and len(title) >= 2:
        # No article has every word: try the longest words one by one.
        for term in sorted(knowledge.terms_of(title), key=len, reverse=True)[:3]:
            articles = knowledge.search(user=request.user, query=term, limit=5)
            if articles:
                break
    return render(request, "tickets/kb_suggest.html", {"articles": articles})
