"""/sla/: the SLA policy and live attainment (seed 001 "SLA configuration" page), and the
attainment report with CSV for managers and auditors (SPT-001 evidence)."""

import csv
from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sla.services import calendar_for_tier, current_policy
from spt_portal import access

from .reports import last_days, sla_report
from .selectors import tickets_visible_to


def _can_read_reports(user) -> bool:
    return access.is_manager(user) or access.is_auditor(user)


@login_required
def sla_overview(request):
    policy = current_policy()
    start, end = last_days(30)
    report = sla_report(tickets=tickets_visible_to(user=request.user), start=start, end=end)
    customer = request.user.customer if access.is_customer_user(request.user) else None
    return render(
        request,
        "tickets/sla_overview.html",
        {
            "policy": policy,
            "targets": sorted(policy.targets.all(), key=lambda t: t.response_minutes),
            "report": report,
            "customer": customer,
            "calendar": calendar_for_tier(customer.service_tier) if customer else None,
            "can_read_reports": _can_read_reports(request.user),
        },
    )


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("To (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The period must start before it ends."))
        if start and end and (end - start).days > 366:
            raise forms.ValidationError(_("Choose a period of at most one year."))
        return cleaned

    def period(self):
        tz = timezone.get_current_timezone()
        default_start, default_end = last_days(30)
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        start_at = datetime.combine(start, time.min, tzinfo=tz) if start else default_start
        end_at = (
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz) if end else default_end
        )
        return start_at, end_at


def _report_for(request):
    if not _can_read_reports(request.user):
        raise PermissionDenied
    form = PeriodForm(request.GET or {})
    if not form.is_valid():
        return form, None
    start, end = form.period()
    return form, sla_report(tickets=tickets_visible_to(user=request.user), start=start, end=end)


@login_required
def sla_report_page(request):
    form, report = _report_for(request)
    return render(request, "tickets/sla_report.html", {"form": form, "report": report})


@login_required
def sla_report_csv(request):
    form, report = _report_for(request)
    if report is None:
        return HttpResponse(
            "; ".join(e for errors in form.errors.values() for e in errors),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="sla-report-{report.start:%Y%m%d}-{report.end:%Y%m%d}.csv"'
    )
    response.write("\ufeff")  # so Excel opens the UTF-8 (Chinese) text correctly
    writer = _SafeWriter(csv.writer(response))
    writer.writerow(
        [
            _("Group"),
            _("Name"),
            _("Tickets"),
            _("First response met"),
            _("First response breached"),
            _("First response attainment %"),
            _("First response mean (min)"),
            _("First response p90 (min)"),
            _("Resolution met"),
            _("Resolution breached"),
            _("Resolution attainment %"),
            _("Resolution mean (min)"),
            _("Resolution p90 (min)"),
        ]
    )
    groups = [
        (_("Total"), [report.total]),
        (_("Priority"), report.by_priority),
        (_("Customer"), report.by_customer),
    ]
    for group, rows in groups:
        for row in rows:
            label = _("All tickets") if row is report.total else row.label
            writer.writerow(
                [
                    group,
                    label,
                    row.tickets,
                    row.response.met,
                    row.response.breached,
                    row.response.attainment,
                    row.response.mean_minutes,
                    row.response.p90_minutes,
                    row.resolution.met,
                    row.resolution.breached,
                    row.resolution.attainment,
                    row.resolution.mean_minutes,
                    row.resolution.p90_minutes,
                ]
            )
    writer.writerow([])
    writer.writerow(
        [
            _("Breaches"),
            _("Ticket"),
            _("Customer"),
            _("Priority"),
            _("Clock"),
            _("Due"),
            _("Reason"),
        ]
    )
    for breach in report.breaches:
        writer.writerow(
            [
                "",
                breach.number,
                breach.customer,
                breach.priority,
                _("First response") if breach.clock == "response" else _("Resolution"),
                timezone.localtime(breach.due_at).strftime("%Y-%m-%d %H:%M"),
                breach.reason,
            ]
        )
    return response


class _SafeWriter:
    """A CSV writer that keeps text from being read as a formula by spreadsheets (a customer
    name like ``=HYPERLINK(...)``): such a cell gets a leading apostrophe (OWASP's advice)."""

    FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

    def __init__(self, writer):
        self.writer = writer

    def writerow(self, row):
        self.writer.writerow(
            [
                f"'{value}"
                if isinstance(value, str) and value.startswith(self.FORMULA_START)
                else value
                for value in row
            ]
        )
