from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    default = True
    name = "spt_portal"
    label = "spt_portal"
    verbose_name = _("Accounts and platform")

    def ready(self):
        from . import roles

        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)


class SPTAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "spt_portal.admin_site.SPTAdminSite"
