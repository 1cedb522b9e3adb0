from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AwsIntegrationsConfig(AppConfig):
    name = "aws_integrations"
    verbose_name = _("AWS integrations")
