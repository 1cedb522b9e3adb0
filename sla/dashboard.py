"""Dashboard panel and Prometheus gauges for on-call coverage."""

from django.utils.translation import gettext_lazy as _
from prometheus_client.core import GaugeMetricFamily

from . import oncall


def oncall_panel(request) -> dict:
    shifts = sorted(oncall.on_call().values(), key=lambda s: s.level)
    return {
        "template": "sla/dashboard_panel.html",
        "title": _("On call now"),
        "shifts": shifts,
        "gaps": oncall.coverage_gaps(days=14, step_minutes=60),
    }


class OnCallCollector:
    def describe(self):
        yield GaugeMetricFamily(
            "spt_oncall_primary_covered", "1 when someone is on primary call now"
        )
        yield GaugeMetricFamily(
            "spt_oncall_gap_hours_next_14d", "Hours without primary on-call in the next 14 days"
        )

    def collect(self):
        try:
            covered = 1 if oncall.primary_on_call() else 0
            gaps = oncall.coverage_gaps(days=14, step_minutes=60)
        except Exception:  # database down: the scrape still answers with the rest
            return
        yield GaugeMetricFamily(
            "spt_oncall_primary_covered", "1 when someone is on primary call now", value=covered
        )
        hours = sum((end - start).total_seconds() for start, end in gaps) / 3600
        yield GaugeMetricFamily(
            "spt_oncall_gap_hours_next_14d",
            "Hours without primary on-call in the next 14 days",
            value=hours,
        )


def document_values() -> dict:
    """The SLA targets the policy documents show (in the active language)."""
    from spt_portal.templatetags.portal import minutes_text

    from .services import current_policy

    return {
        target.priority: {
            "response": minutes_text(target.response_minutes),
            "resolution": minutes_text(target.resolution_minutes),
            "description": target.localized_description,
        }
        for target in current_policy().targets.all()
    }
