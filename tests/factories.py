import factory
from django.contrib.auth.models import Group

from spt_portal.models import Customer, CustomerAWSAccount, CustomerEmailDomain, User
from spt_portal.roles import Role

PASSWORD = "test-pass-2026"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    short_code = factory.Sequence(lambda n: f"C{n:04d}")


class EmailDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerEmailDomain

    customer = factory.SubFactory(CustomerFactory)
    domain = factory.Sequence(lambda n: f"customer{n}.example")


class AWSAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerAWSAccount

    customer = factory.SubFactory(CustomerFactory)
    account_id = factory.Sequence(lambda n: f"{900000000000 + n:012d}")
    partition = "aws"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Sequence(lambda n: f"User {n}")
    preferred_language = "en"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        _finish(self, create, extracted)


def _finish(user, create, role):
    if create:
        user.save()
        if role:
            user.groups.add(Group.objects.get(name=role))


class CustomerUserFactory(UserFactory):
    customer = factory.SubFactory(CustomerFactory)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        _finish(self, create, extracted or Role.CUSTOMER)


class StaffUserFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        _finish(self, create, extracted or Role.ENGINEER)
