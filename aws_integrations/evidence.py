"""SPT-005 evidence and Prometheus gauges for the AWS Support sync."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from spt_portal.audit import Evidence
from spt_portal.models import CustomerAWSAccount

from .models import SyncRun


def _last_success_by_account() -> dict[int, object]:
    return dict(
        SyncRun.objects.filter(kind=SyncRun.Kind.SUPPORT_POLL, outcome=SyncRun.Outcome.OK)
        .order_by()
        .values_list("account_id")
        .annotate(last=Max("finished_at"))
    )


def spt005(request) -> list[Evidence]:
    now = timezone.now()
    accounts = list(
        CustomerAWSAccount.objects.filter(support_sync_enabled=True)
        .exclude(role_arn="")
        .select_related("customer")
    )
    last = _last_success_by_account()
    stale_after = timedelta(minutes=settings.AWS_SUPPORT_STALE_MINUTES)
    runs_url = reverse("admin:aws_integrations_syncrun_changelist")
    evidence = []
    for account in accounts:
        when = last.get(account.pk)
        ok = when is not None and now - when <= stale_after
        evidence.append(
            Evidence(
                label=_("Last successful AWS Support sync of %(account)s (%(customer)s)")
                % {"account": account.account_id, "customer": account.customer.short_code},
                value=timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else _("never"),
                ok=ok,
                url=f"{runs_url}?account__id__exact={account.pk}",
                detail=_("Missing when older than %(minutes)d minutes.")
                % {"minutes": settings.AWS_SUPPORT_STALE_MINUTES}
                + (f" {account.support_api_error}" if account.support_api_error else ""),
            )
        )
    day = SyncRun.objects.filter(
        kind=SyncRun.Kind.SUPPORT_POLL, started_at__gte=now - timedelta(days=1)
    )
    totals = day.aggregate(cases=Sum("cases_seen"), comments=Sum("comments_imported"))
    evidence.append(
        Evidence(
            label=_("AWS Support sync runs, last 24 hours"),
            value=_("%(runs)d runs, %(cases)d cases checked, %(comments)d updates imported")
            % {
                "runs": day.count(),
                "cases": totals["cases"] or 0,
                "comments": totals["comments"] or 0,
            },
            ok=day.filter(outcome=SyncRun.Outcome.OK).exists() or not accounts,
            url=runs_url,
        )
    )
    logs = reverse("admin:spt_portal_notificationlog_changelist")
    evidence.append(
        Evidence(
            label=_("Customer notices of AWS engineers' replies"),
            value=_("in the notification log"),
            ok=True,
            url=f"{logs}?template=ticket_reply",
        )
    )
    return evidence


def support_sync_ages(now) -> dict[str, float | None]:
    """Seconds since the last successful Support sync of each enabled account (None:
    never synced), by AWS account id."""
    last = _last_success_by_account()
    ages = {}
    for pk, account_id in (
        CustomerAWSAccount.objects.filter(support_sync_enabled=True)
        .exclude(role_arn="")
        .values_list("pk", "account_id")
    ):
        when = last.get(pk)
        ages[account_id] = (now - when).total_seconds() if when else None
    return ages


def health_ages(now) -> dict[str, float | None]:
    """Seconds since the last successful Health poll and the last processed Health/SQS
    message (None: never)."""
    ages = {}
    for name, kind in (("poll", SyncRun.Kind.HEALTH_POLL), ("message", SyncRun.Kind.HEALTH_QUEUE)):
        last = (
            SyncRun.objects.filter(kind=kind, outcome=SyncRun.Outcome.OK)
            .order_by("-finished_at")
            .values_list("finished_at", flat=True)
            .first()
        )
        ages[name] = (now - last).total_seconds() if last else None
    return ages


class SupportSyncCollector:
    """Ages of the last successful sync per account, and every sync run by kind and
    outcome (a counter: runs are kept)."""

    @staticmethod
    def _families():
        return (
            GaugeMetricFamily(
                "spt_aws_support_sync_age_seconds",
                "Seconds since the last successful AWS Support sync, per account",
                labels=["account"],
            ),
            CounterMetricFamily(
                "spt_aws_sync_runs",
                "AWS sync runs (Support polls, Health polls, queue batches) by kind and outcome",
                labels=["kind", "outcome"],
            ),
        )

    def describe(self):
        yield from self._families()

    def collect(self):
        gauge, runs = self._families()
        try:
            ages = support_sync_ages(timezone.now())
            counts = list(
                SyncRun.objects.order_by().values_list("kind", "outcome").annotate(n=Count("id"))
            )
        except Exception:  # the database may be down; the scrape still answers
            return
        for account_id, age in ages.items():
            gauge.add_metric([account_id], float("inf") if age is None else age)
        for kind, outcome, n in counts:
            runs.add_metric([kind, outcome], n)
        yield gauge
        yield runs


def spt006(request) -> list[Evidence]:
    from .models import HealthEvent, HealthEventCustomer

    now = timezone.now()
    month = now - timedelta(days=30)
    runs_url = reverse("admin:aws_integrations_syncrun_changelist")
    events_url = reverse("admin:aws_integrations_healthevent_changelist")
    last_poll = (
        SyncRun.objects.filter(kind=SyncRun.Kind.HEALTH_POLL, outcome=SyncRun.Outcome.OK)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    received = HealthEvent.objects.filter(received_at__gte=month)
    notified = HealthEventCustomer.objects.filter(notified_at__gte=month)
    return [
        *_health_accounts(now, runs_url),
        Evidence(
            label=_("Last successful AWS Health poll"),
            value=timezone.localtime(last_poll).strftime("%Y-%m-%d %H:%M")
            if last_poll
            else _("never"),
            ok=bool(last_poll and now - last_poll <= timedelta(minutes=45)),
            url=f"{runs_url}?kind__exact=health_poll",
            detail=_("Missing when older than 45 minutes (the poll runs every 15)."),
        ),
        Evidence(
            label=_("AWS Health events received, last 30 days"),
            value=_("%(events)d events, %(tickets)d event tickets")
            % {
                "events": received.count(),
                "tickets": received.filter(ticket__isnull=False).count(),
            },
            ok=True,
            url=events_url,
        ),
        Evidence(
            label=_("Customers notified of AWS Health events, last 30 days"),
            value=str(notified.count()),
            ok=True,
            url=reverse("admin:aws_integrations_healtheventcustomer_changelist"),
        ),
    ]


def _health_accounts(now, runs_url: str) -> list[Evidence]:
    """Account view: a poll run fails when any account fails, so its date alone does not
    say which customers' events are being read. Each account's last good poll does."""
    if settings.AWS_HEALTH_ORGANIZATION_VIEW:
        return []
    accounts = list(
        CustomerAWSAccount.objects.filter(health_enabled=True)
        .exclude(role_arn="")
        .select_related("customer")
        .order_by("customer__short_code", "account_id")
    )
    if not accounts:
        return []
    cutoff = now - timedelta(minutes=45)
    stale = [a for a in accounts if a.health_polled_at is None or a.health_polled_at < cutoff]
    return [
        Evidence(
            label=_("AWS Health poll of each customer account"),
            value=_("%(fresh)d of %(total)d accounts read in the last 45 minutes")
            % {"fresh": len(accounts) - len(stale), "total": len(accounts)},
            ok=not stale,
            url=f"{runs_url}?kind__exact=health_poll",
            detail=_("Not read: %(accounts)s (the poll run's errors say why).")
            % {
                "accounts": ", ".join(
                    f"{a.account_id} ({a.customer.short_code})" for a in stale[:20]
                )
                + (" …" if len(stale) > 20 else "")
            }
            if stale
            else "",
        )
    ]


class HealthCollector:
    NAMES = ("spt_aws_health_last_poll_age_seconds", "spt_aws_health_last_message_age_seconds")

    def describe(self):
        for name in self.NAMES:
            yield GaugeMetricFamily(name, name.replace("_", " "))

    def collect(self):
        try:
            found = health_ages(timezone.now())
        except Exception:  # the database may be down
            return
        ages = [float("inf") if found[k] is None else found[k] for k in ("poll", "message")]
        yield GaugeMetricFamily(
            self.NAMES[0], "Seconds since the last successful AWS Health poll", value=ages[0]
        )
        yield GaugeMetricFamily(
            self.NAMES[1],
            "Seconds since the last AWS Health queue message was processed",
            value=ages[1],
        )
