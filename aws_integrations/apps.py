from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AwsIntegrationsConfig(AppConfig):
    name = "aws_integrations"
    verbose_name = _("AWS integrations")

    def ready(self):
        from spt_portal.audit import register_evidence
        from spt_portal.observability import register_collector
        from tickets.services import comment_created

        from . import evidence, receivers

        comment_created.connect(receivers.queue_comment_for_aws, dispatch_uid="aws.queue_push")
        from django.conf import settings

        from spt_portal.documents import register_values

        register_values(
            "aws",
            lambda: {
                "support_poll_minutes": settings.AWS_SUPPORT_POLL_MINUTES,
                "stale_minutes": settings.AWS_SUPPORT_STALE_MINUTES,
                "health_poll_minutes": 15,
                "health_update_hours": settings.AWS_HEALTH_UPDATE_HOURS,
            },
        )
        register_evidence("SPT-005", evidence.spt005)
        register_evidence("SPT-006", evidence.spt006)
        register_collector(evidence.SupportSyncCollector())
        register_collector(evidence.HealthCollector())
