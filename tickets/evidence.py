"""Live audit evidence from tickets: SPT-001 (SLA attainment), SPT-003 (tickets per
channel), SPT-004 (priority definitions). Registered with spt_portal.audit."""

from datetime import timedelta

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sla.services import current_policy
from spt_portal.audit import Evidence

from .models import Source, Ticket
from .reports import last_days, sla_report


def spt001(request) -> list[Evidence]:
    policy = current_policy()
    start, end = last_days(30)
    report = sla_report(tickets=Ticket.objects.all(), start=start, end=end)
    total = report.total
    return [
        Evidence(
            label=_("SLA policy in force"),
            value=_("version %(n)s since %(date)s")
            % {"n": policy.pk, "date": f"{policy.created_at:%Y-%m-%d}"},
            ok=True,
            url=reverse("sla_overview"),
        ),
        Evidence(
            label=_("SLA attainment, last 30 days"),
            value=_("first response %(r)s%%, resolution %(s)s%% over %(n)d tickets; %(b)d breaches")
            % {
                "r": total.response.attainment if total.response.attainment is not None else "—",
                "s": total.resolution.attainment
                if total.resolution.attainment is not None
                else "—",
                "n": total.tickets,
                "b": len(report.breaches),
            },
            ok=total.tickets > 0,
            url=reverse("sla_report"),
            detail=_("Missing when no ticket was opened in the last 30 days."),
        ),
    ]


def spt003(request) -> list[Evidence]:
    since = timezone.now() - timedelta(days=30)
    counts = dict(
        Ticket.objects.filter(created_at__gte=since)
        .order_by()
        .values_list("source")
        .annotate(n=Count("id"))
    )
    changelist = reverse("admin:tickets_ticket_changelist")
    evidence = []
    for source in (Source.WEB, Source.EMAIL, Source.API):
        n = counts.get(source.value, 0)
        evidence.append(
            Evidence(
                label=_("Tickets created by %(channel)s, last 30 days") % {"channel": source.label},
                value=str(n),
                ok=n > 0,
                url=f"{changelist}?source__exact={source.value}",
                detail=_("Missing when the channel created no ticket in 30 days."),
            )
        )
    return evidence


def spt004(request) -> list[Evidence]:
    from .models import Article

    targets = list(current_policy().targets.all())
    public = Article.objects.filter(visibility=Article.Visibility.PUBLIC, is_published=True).count()
    return [
        Evidence(
            label=_("Public knowledge-base articles"),
            value=str(public),
            ok=public > 0,
            url=reverse("portal:kb"),
            detail=_("Missing when customers have no published article."),
        ),
        Evidence(
            label=_("Policy document with the priority definitions"),
            value=_("SLA policy, chapter 2"),
            ok=True,
            url=reverse("document", args=["SLA-POLICY"]) + "#response-times",
        ),
        Evidence(
            label=_("Priority and severity definitions"),
            value=", ".join(
                f"{t.get_priority_display()}: {t.localized_description}" for t in targets
            ),
            ok=len(targets) == 4 and all(t.description for t in targets),
            url=reverse("sla_overview"),
        ),
    ]
