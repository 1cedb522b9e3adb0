"""Sign-in backend: Django's, plus "a contact of a customer that is no longer active cannot
sign in, and is signed out" (the portal and the admin alike; API tokens check the same)."""

from django.contrib.auth.backends import ModelBackend

from .models import User


def customer_is_active(user) -> bool:
    """False for a contact whose customer was deactivated (staff have no customer)."""
    return user.customer_id is None or user.customer.is_active


class PortalBackend(ModelBackend):
    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and customer_is_active(user)

    def get_user(self, user_id):
        # One query for the user and the customer every page shows anyway.
        user = User._default_manager.select_related("customer").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
