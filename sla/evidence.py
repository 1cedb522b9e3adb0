"""Live audit evidence for SPT-002: on-call coverage and the 24x7 contact channels."""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from spt_portal.audit import Evidence

from . import oncall


def spt002(request) -> list[Evidence]:
    gaps = oncall.coverage_gaps(days=14, step_minutes=60)
    hours = sum((end - start).total_seconds() for start, end in gaps) / 3600
    return [
        Evidence(
            label=_("On-call coverage, next 14 days"),
            value=_("fully covered")
            if not gaps
            else _("%(n)d gaps, %(h).0f hours without primary on-call")
            % {"n": len(gaps), "h": hours},
            ok=not gaps,
            url=reverse("oncall"),
            detail=_("Missing when any hour of the next 14 days has nobody on primary call."),
        ),
        Evidence(
            label=_("24x7 contact channels"),
            value=" · ".join(
                [
                    f"{settings.SITE_URL}/portal/",
                    settings.SUPPORT_EMAIL_ADDRESS,
                    settings.SUPPORT_HOTLINE,
                ]
            ),
            ok=bool(settings.SUPPORT_EMAIL_ADDRESS and settings.SUPPORT_HOTLINE),
            url=reverse("support_contact"),
        ),
    ]
