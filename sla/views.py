"""On-call pages: the staff view (/ops/oncall/), iCal feeds, the customers' contact page."""

from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from spt_portal.access import staff_required
from spt_portal.models import User

from . import ical, oncall
from .models import OnCallSchedule


@staff_required
def oncall_overview(request):
    schedule = oncall.default_schedule()
    asked = request.GET.get("at", "").strip()
    at = None
    if asked:
        at = parse_datetime(asked) or parse_datetime(asked.replace(" ", "T"))
        if at is not None and timezone.is_naive(at):
            at = timezone.make_aware(at, timezone.get_current_timezone())
    context = {"schedule": schedule, "asked": asked, "asked_invalid": bool(asked and at is None)}
    if schedule is not None:
        now = timezone.now()
        start, end = now, now + timezone.timedelta(days=14)
        context.update(
            {
                "now_shifts": sorted(
                    oncall.on_call(schedule=schedule).values(), key=lambda s: s.level
                ),
                "at": at,
                "at_shifts": sorted(
                    oncall.on_call(schedule=schedule, at=at).values(), key=lambda s: s.level
                )
                if at
                else None,
                "gaps": oncall.coverage_gaps(schedule=schedule),
                "upcoming": oncall.shifts_between(schedule=schedule, start=start, end=end),
                "schedule_feed": request.build_absolute_uri(
                    reverse("oncall_ical", args=[ical.feed_token(schedule_id=schedule.pk)])
                ),
                "my_feed": request.build_absolute_uri(
                    reverse(
                        "oncall_ical",
                        args=[ical.feed_token(schedule_id=schedule.pk, user_id=request.user.pk)],
                    )
                ),
            }
        )
    return render(request, "sla/oncall.html", context)


def oncall_ical(request, token):
    data = ical.read_token(token)
    if data is None:
        raise Http404
    schedule = get_object_or_404(OnCallSchedule, pk=data["s"], is_active=True)
    user = get_object_or_404(User, pk=data["u"], is_active=True) if data.get("u") else None
    start, end = ical.window()
    shifts = oncall.shifts_between(schedule=schedule, start=start, end=end, user=user)
    title = f"{schedule.name}: {user.get_full_name()}" if user else schedule.name
    response = HttpResponse(
        ical.build_calendar(schedule=schedule, shifts=shifts, title=title),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = 'inline; filename="oncall.ics"'
    return response


def support_contact(request):
    """24x7 contact channels and who is on duty (first names only)."""
    on_duty = [
        shift.user.get_short_name()
        for shift in sorted(oncall.on_call().values(), key=lambda s: s.level)
    ]
    return render(
        request,
        "sla/contact.html",
        {
            "hotline": settings.SUPPORT_HOTLINE,
            "portal_url": settings.SITE_URL + "/portal/",
            "on_duty": list(dict.fromkeys(on_duty)),
            "now": datetime.now(tz=timezone.get_current_timezone()),
        },
    )
