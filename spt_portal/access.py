"""Who may see what. Every view and API asks this module (or an app's selectors built on it).

One condition per line, so a reviewer can read each rule.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import resolve_url

from .models import Customer, CustomerAWSAccount, User
from .roles import Role


def roles_of(user) -> frozenset[str]:
    """The role names of a user, read once per request and kept on the user object."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_spt_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._spt_roles = cached
    return cached


def is_customer_user(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return False
    return user.customer_id is not None


def is_staff_user(user) -> bool:
    """Partner staff: engineers, managers, auditors, administrators."""
    return user.is_authenticated and user.is_active and user.is_staff


def is_auditor(user) -> bool:
    """A read-only auditor (staff who is an auditor and nothing more)."""
    if not is_staff_user(user) or user.is_superuser:
        return False
    roles = roles_of(user)
    if Role.AUDITOR not in roles:
        return False
    return not ({Role.ENGINEER, Role.MANAGER} & roles)


def is_engineer_or_manager(user) -> bool:
    """Staff who may work (write): engineers, managers and superusers."""
    if not is_staff_user(user):
        return False
    if user.is_superuser:
        return True
    return bool({Role.ENGINEER, Role.MANAGER} & roles_of(user))


def is_manager(user) -> bool:
    if not is_staff_user(user):
        return False
    return user.is_superuser or Role.MANAGER in roles_of(user)


def home_url_for(user) -> str:
    """Where each role lands after signing in."""
    if is_customer_user(user):
        return resolve_url("portal:home")
    if is_auditor(user):
        return resolve_url("audit:overview")
    if is_staff_user(user):
        return resolve_url("admin:index")
    return resolve_url("login")


def customers_visible_to(*, user: User) -> QuerySet[Customer]:
    if is_staff_user(user):
        return Customer.objects.all()
    if is_customer_user(user):
        return Customer.objects.filter(pk=user.customer_id)
    return Customer.objects.none()


def aws_accounts_visible_to(*, user: User) -> QuerySet[CustomerAWSAccount]:
    if is_staff_user(user):
        return CustomerAWSAccount.objects.all()
    if is_customer_user(user):
        return CustomerAWSAccount.objects.filter(customer_id=user.customer_id)
    return CustomerAWSAccount.objects.none()


def _require(test):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not test(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


customer_required = _require(is_customer_user)
staff_required = _require(is_staff_user)
