from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    default = True
    name = "spt_portal"
    label = "spt_portal"
    verbose_name = _("Accounts and platform")

    def ready(self):
        from . import config_cache, roles
        from .models import APIToken, Customer, User
        from .tokens import TOKENS

        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)
        request_started.connect(config_cache.request_started, dispatch_uid="config-cache-start")
        request_finished.connect(config_cache.request_finished, dispatch_uid="config-cache-end")
        # API tokens, with their user and customer, are kept per process
        # (tokens.user_for_token) until one of these changes.
        config_cache.watch(TOKENS, APIToken, User, Customer)


class SPTAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "spt_portal.admin_site.SPTAdminSite"
