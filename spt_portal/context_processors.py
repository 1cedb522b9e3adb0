from django.conf import settings

from . import access


def portal(request):
    user = getattr(request, "user", None)
    return {
        "support_email": settings.SUPPORT_EMAIL_ADDRESS,
        "is_customer_user": bool(user and access.is_customer_user(user)),
        "is_staff_user": bool(user and access.is_staff_user(user)),
        "is_auditor": bool(user and access.is_auditor(user)),
    }
