import pytest
from django.core.management import call_command

from spt_portal import access
from spt_portal.models import Customer, CustomerAWSAccount, User

pytestmark = pytest.mark.django_db

LOGINS = {
    "customer@acme.example": "/portal/",
    "customer@globex.example": "/portal/",
    "engineer@partner.example": "/admin/",
    "manager@partner.example": "/admin/",
    "auditor@partner.example": "/audit/",
    "admin@partner.example": "/admin/",
}


def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    call_command("seed_demo")
    assert Customer.objects.count() == 2
    assert User.objects.count() == 6
    accounts = {
        a.account_id: a.customer.short_code
        for a in CustomerAWSAccount.objects.select_related("customer")
    }
    assert accounts == {"123456789012": "ACME", "111122223333": "ACME", "444455556666": "GLOBEX"}


@pytest.mark.parametrize("email, landing", sorted(LOGINS.items()))
def test_every_demo_login_works_and_lands_in_its_place(client, email, landing):
    call_command("seed_demo")
    response = client.post("/accounts/login/", {"username": email, "password": "demo-pass-2026"})
    assert response.status_code == 302, response.content.decode()[:500]
    assert client.get("/").headers["Location"] == landing


def test_demo_roles():
    call_command("seed_demo")
    assert access.is_auditor(User.objects.get(email="auditor@partner.example"))
    assert access.is_manager(User.objects.get(email="manager@partner.example"))
    engineer = User.objects.get(email="engineer@partner.example")
    assert access.is_engineer_or_manager(engineer)
    assert not access.is_manager(engineer)
    assert User.objects.get(email="admin@partner.example").is_superuser
