"""Roles are groups with permissions; this module is the one table that defines them.

``sync_roles`` runs after every ``migrate``, so a model added by a later app gets the right
permissions in every role without a data migration of its own.
"""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class Role(TextChoices):
    CUSTOMER = "customer", _("Customer")
    ENGINEER = "engineer", _("Engineer")
    MANAGER = "manager", _("Manager")
    AUDITOR = "auditor", _("Auditor")


PROJECT_APPS = ("spt_portal", "sla", "tickets", "aws_integrations", "incidents", "postmortems")
ALL_ACTIONS = ("view", "add", "change", "delete")
WORK = ("view", "add", "change")
READ = ("view",)

# role -> [(app label, model name or "*", actions)]. Later matches add to earlier ones.
ROLE_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    Role.CUSTOMER: [],  # customers never use the admin; the portal checks their access
    Role.ENGINEER: [
        ("spt_portal", "customer", READ),
        ("spt_portal", "customeremaildomain", READ),
        ("spt_portal", "customerawsaccount", READ),
        ("spt_portal", "user", READ),
        ("spt_portal", "skill", READ),
        ("spt_portal", "joboutbox", READ),
        ("sla", "*", READ),
        ("tickets", "*", WORK),
        ("aws_integrations", "*", WORK),
        ("incidents", "*", WORK),
        ("postmortems", "*", WORK),
    ],
    # Managers also see sign-in lockouts (django-axes) and lift one by deleting it;
    # auditors see them as evidence that failed sign-ins are watched.
    Role.MANAGER: [(app, "*", ALL_ACTIONS) for app in PROJECT_APPS] + [("axes", "*", ALL_ACTIONS)],
    Role.AUDITOR: [(app, "*", READ) for app in PROJECT_APPS] + [("axes", "*", READ)],
}


def permissions_for(role: str) -> list[Permission]:
    wanted: set[tuple[str, str]] = set()
    for app_label, model_name, actions in ROLE_PERMISSIONS[role]:
        models = (
            apps.get_app_config(app_label).get_models()
            if model_name == "*"
            else [apps.get_model(app_label, model_name)]
        )
        for model in models:
            for action in actions:
                wanted.add((app_label, f"{action}_{model._meta.model_name}"))
    if not wanted:
        return []
    perms = Permission.objects.filter(
        content_type__app_label__in={app for app, _ in wanted}
    ).select_related("content_type")
    return [p for p in perms if (p.content_type.app_label, p.codename) in wanted]


def sync_roles() -> None:
    """Create the role groups and set their permissions exactly (idempotent)."""
    for role in Role:
        group, _created = Group.objects.get_or_create(name=role.value)
        group.permissions.set(permissions_for(role))


def sync_roles_after_migrate(sender, using="default", verbosity=1, **kwargs):
    # Permissions of apps after this one in INSTALLED_APPS may not exist yet: create them.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    sync_roles()
