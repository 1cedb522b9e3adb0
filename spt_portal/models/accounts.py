"""People and organisations: users (staff and customer contacts), customers, AWS accounts."""

import secrets
import zoneinfo

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    EN = "en", _("English")
    ZH_HANS = "zh-hans", _("Simplified Chinese")


def validate_timezone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known timezone."), params={"value": value})


class Skill(models.Model):
    """An area of expertise; a ticket's category is matched against engineers' skills."""

    slug = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name = _("skill")
        verbose_name_plural = _("skills")

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)  # None gives an unusable password (a contact)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in by email.

    Staff (engineers, managers, auditors) have ``is_staff`` and no customer. A customer's
    people ("contacts") belong to exactly one customer; a contact created from an inbound
    email has no usable password until someone invites them.
    """

    email = models.EmailField(_("email address"), max_length=254, unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS
    )
    timezone = models.CharField(
        _("timezone"),
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text=_("Empty: the customer's timezone, else the portal default."),
    )
    phone = models.CharField(
        _("phone"),
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^\+?[0-9 \-]{5,30}$", _("Enter a phone number."))],
        help_text=_("For SMS notices, international format, e.g. +86 138 0000 0000."),
    )
    skills = models.ManyToManyField(
        Skill, verbose_name=_("skills"), blank=True, related_name="users"
    )
    customer = models.ForeignKey(
        "spt_portal.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("Partner staff: engineers, managers and auditors."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    email_bounced_at = models.DateTimeField(
        _("email bounced at"),
        null=True,
        blank=True,
        help_text=_("Set when mail to this address bounced permanently; shown to engineers."),
    )
    date_joined = models.DateTimeField(_("date joined"), default=django_timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        # Addresses are stored lower-cased (save()), so the unique index is case-insensitive.
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(is_staff=True, customer__isnull=False),
                name="user_staff_has_no_customer",
                violation_error_message=_("Staff users cannot belong to a customer."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()
        if self.is_staff and self.customer_id:
            raise ValidationError({"customer": _("Staff users cannot belong to a customer.")})

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]

    @property
    def effective_timezone(self) -> str:
        if self.timezone:
            return self.timezone
        if self.customer_id and self.customer.timezone:
            return self.customer.timezone
        return ""


class ServiceTier(models.TextChoices):
    """The partner's contract level with a customer; selects SLA targets and calendar."""

    STANDARD = "standard", _("Standard")
    BUSINESS = "business", _("Business")
    ENTERPRISE = "enterprise", _("Enterprise")


class Customer(models.Model):
    """A customer organisation of the partner."""

    name = models.CharField(_("name"), max_length=200)
    short_code = models.SlugField(
        _("short code"),
        max_length=20,
        unique=True,
        help_text=_("Short unique code, e.g. ACME; used in reports and ticket lists."),
    )
    service_tier = models.CharField(
        _("service tier"),
        max_length=20,
        choices=ServiceTier.choices,
        default=ServiceTier.STANDARD,
    )
    default_language = models.CharField(
        _("default language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS
    )
    timezone = models.CharField(
        _("timezone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.short_code = self.short_code.upper()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("admin:spt_portal_customer_change", args=[self.pk])


class CustomerEmailDomain(models.Model):
    """Mail from this domain belongs to the customer (a domain belongs to one customer)."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="email_domains", verbose_name=_("customer")
    )
    domain = models.CharField(
        _("domain"),
        max_length=253,
        validators=[
            RegexValidator(
                r"^(?=.{1,253}$)([a-z0-9](-*[a-z0-9])*)(\.([a-z0-9](-*[a-z0-9])*))+$",
                _("Enter a domain name such as example.com."),
            )
        ],
    )

    class Meta:
        ordering = ["domain"]
        verbose_name = _("email domain")
        verbose_name_plural = _("email domains")
        constraints = [models.UniqueConstraint(fields=["domain"], name="email_domain_unique")]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower()
        super().save(*args, **kwargs)

    def clean(self):
        self.domain = self.domain.strip().lower()


class Partition(models.TextChoices):
    AWS = "aws", _("AWS (global)")
    AWS_CN = "aws-cn", _("AWS China (Beijing, Ningxia)")


class SupportPlan(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    BASIC = "basic", _("Basic")
    DEVELOPER = "developer", _("Developer")
    BUSINESS = "business", _("Business")
    ENTERPRISE_ON_RAMP = "enterprise_on_ramp", _("Enterprise On-Ramp")
    ENTERPRISE = "enterprise", _("Enterprise")


def new_external_id() -> str:
    return secrets.token_hex(16)


account_id_validator = RegexValidator(r"^\d{12}$", _("An AWS account id is exactly 12 digits."))
role_arn_validator = RegexValidator(
    r"^arn:aws(-cn)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$",
    _("Enter an IAM role ARN such as arn:aws:iam::123456789012:role/SPTPortalAccess."),
)


class CustomerAWSAccount(models.Model):
    """One of a customer's AWS accounts, reached through an IAM role the customer created."""

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="aws_accounts", verbose_name=_("customer")
    )
    account_id = models.CharField(
        _("AWS account id"), max_length=12, validators=[account_id_validator]
    )
    partition = models.CharField(
        _("partition"), max_length=10, choices=Partition.choices, default=Partition.AWS
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    role_arn = models.CharField(
        _("IAM role ARN"), max_length=600, blank=True, validators=[role_arn_validator]
    )
    external_id = models.CharField(
        _("external id"),
        max_length=64,
        default=new_external_id,
        help_text=_("Given to the customer for the role's trust policy (sts:ExternalId)."),
    )
    support_plan = models.CharField(
        _("AWS support plan"),
        max_length=20,
        choices=SupportPlan.choices,
        default=SupportPlan.UNKNOWN,
    )
    support_sync_enabled = models.BooleanField(_("sync AWS Support cases"), default=True)
    support_api_error = models.CharField(
        _("Support API problem"),
        max_length=300,
        blank=True,
        help_text=_("Set by the sync, e.g. no Business or Enterprise support plan."),
    )
    health_enabled = models.BooleanField(_("receive AWS Health events"), default=True)
    health_polled_at = models.DateTimeField(
        _("last AWS Health poll"),
        null=True,
        blank=True,
        help_text=_("When the account view's Health poll last read this account without error."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["customer__name", "account_id"]
        verbose_name = _("customer AWS account")
        verbose_name_plural = _("customer AWS accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["partition", "account_id"], name="aws_account_unique_per_partition"
            ),
            models.CheckConstraint(
                condition=models.Q(partition__in=["aws", "aws-cn"]), name="aws_account_partition"
            ),
        ]

    def __str__(self) -> str:
        label = f"{self.account_id} ({self.partition})"
        return f"{label} {self.name}" if self.name else label

    def clean(self):
        super().clean()
        if self.role_arn:
            arn_partition = self.role_arn.split(":")[1]
            if arn_partition != self.partition:
                raise ValidationError(
                    {"role_arn": _("The role ARN must be in the account's partition.")}
                )
            if self.role_arn.split(":")[4] != self.account_id:
                raise ValidationError({"role_arn": _("The role must belong to this AWS account.")})


class APIToken(models.Model):
    """A REST API token. Only a hash is stored; the token is shown once when created.

    Format: ``spt_<prefix>_<secret>``; the prefix finds the row, the SHA-256 of the whole
    token is compared in constant time. A token acts as its user (customer tokens see their
    organisation, staff tokens what the staff role sees) and can be revoked.
    """

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"spt_{self.prefix}_… ({self.user.email})"
