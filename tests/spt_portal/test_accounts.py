import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from spt_portal.models import CustomerAWSAccount, User
from spt_portal.roles import Role
from tests.factories import PASSWORD, AWSAccountFactory, CustomerUserFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def test_login_by_email_is_case_insensitive():
    user = CustomerUserFactory(email="Alice@Acme.Example")
    assert user.email == "alice@acme.example"
    request = RequestFactory().post("/accounts/login/")  # django-axes needs the request
    assert authenticate(request, username="ALICE@acme.example", password=PASSWORD) == user


def test_email_is_unique_whatever_the_case():
    CustomerUserFactory(email="bob@acme.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("BOB@acme.example", "x")


def test_staff_cannot_belong_to_a_customer(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("eng@partner.example", "x", is_staff=True, customer=acme)


def test_contact_without_password_cannot_sign_in(acme):
    contact = User.objects.create_user("contact@acme.example", customer=acme)
    assert not contact.has_usable_password()
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="contact@acme.example", password="") is None


@pytest.mark.parametrize("bad", ["12345678901", "1234567890123", "12345678901a", ""])
def test_account_id_must_be_twelve_digits(acme, bad):
    account = CustomerAWSAccount(customer=acme, account_id=bad, partition="aws")
    with pytest.raises(ValidationError) as exc:
        account.full_clean()
    assert "account_id" in exc.value.message_dict


def test_account_id_unique_per_partition(acme, globex):
    AWSAccountFactory(customer=acme, account_id="123456789012", partition="aws")
    # The same number in the China partition is a different account.
    AWSAccountFactory(customer=globex, account_id="123456789012", partition="aws-cn")
    with pytest.raises(IntegrityError), transaction.atomic():
        AWSAccountFactory(customer=globex, account_id="123456789012", partition="aws")


def test_role_arn_must_match_partition_and_account(acme):
    account = CustomerAWSAccount(
        customer=acme,
        account_id="123456789012",
        partition="aws-cn",
        role_arn="arn:aws:iam::123456789012:role/SPTPortalAccess",
    )
    with pytest.raises(ValidationError) as exc:
        account.full_clean()
    assert "role_arn" in exc.value.message_dict

    account.role_arn = "arn:aws-cn:iam::999999999999:role/SPTPortalAccess"
    with pytest.raises(ValidationError):
        account.full_clean()

    account.role_arn = "arn:aws-cn:iam::123456789012:role/SPTPortalAccess"
    account.full_clean()
    assert len(account.external_id) == 32


def test_each_account_gets_its_own_external_id(acme):
    first = AWSAccountFactory(customer=acme)
    second = AWSAccountFactory(customer=acme)
    assert first.external_id != second.external_id


def test_roles_are_groups_with_the_right_permissions():
    auditor = Group.objects.get(name=Role.AUDITOR)
    codenames = set(auditor.permissions.values_list("codename", flat=True))
    assert "view_customer" in codenames
    assert all(code.startswith("view_") for code in codenames)

    engineer = StaffUserFactory(role=Role.ENGINEER)
    assert engineer.has_perm("spt_portal.view_customer")
    assert not engineer.has_perm("spt_portal.change_customer")

    manager = StaffUserFactory(role=Role.MANAGER)
    assert manager.has_perm("spt_portal.change_customer")
    assert manager.has_perm("spt_portal.add_customerawsaccount")

    assert not Group.objects.get(name=Role.CUSTOMER).permissions.exists()
