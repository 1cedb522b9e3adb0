"""Demo data for the quick start: two customers, their AWS accounts and one login per role.

Idempotent: running it again updates the same rows (and resets the demo passwords).
"""

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from spt_portal.models import (
    Customer,
    CustomerAWSAccount,
    CustomerEmailDomain,
    ServiceTier,
    Skill,
    SupportPlan,
    User,
)
from spt_portal.roles import Role, sync_roles

DEMO_PASSWORD = "demo-pass-2026"

CUSTOMERS = [
    {
        "short_code": "ACME",
        "name": "Acme Corporation",
        "service_tier": ServiceTier.ENTERPRISE,
        "default_language": "zh-hans",
        "timezone": "Asia/Shanghai",
        "domains": ["acme.example"],
        # 123456789012 and 111122223333 are the example ids in AWS's documentation, so
        # documentation samples (Health events, Support cases) map to a demo customer.
        "accounts": [
            ("123456789012", "aws", "Acme production", SupportPlan.ENTERPRISE),
            ("111122223333", "aws", "Acme staging", SupportPlan.BUSINESS),
        ],
    },
    {
        "short_code": "GLOBEX",
        "name": "Globex Ltd.",
        "service_tier": ServiceTier.BUSINESS,
        "default_language": "en",
        "timezone": "Asia/Shanghai",
        "domains": ["globex.example"],
        "accounts": [("444455556666", "aws", "Globex main", SupportPlan.BUSINESS)],
    },
]

SKILLS = [
    ("ec2", "EC2 / compute"),
    ("networking", "Networking / VPC"),
    ("database", "Databases (RDS, DynamoDB)"),
    ("billing", "Billing and accounts"),
    ("security", "Security and IAM"),
]

STAFF = [
    ("engineer@partner.example", "Demo Engineer", Role.ENGINEER, ["ec2", "networking"]),
    ("manager@partner.example", "Demo Manager", Role.MANAGER, []),
    ("auditor@partner.example", "Demo Auditor", Role.AUDITOR, []),
]


class Command(BaseCommand):
    help = "Create or refresh the demo customers, AWS accounts and logins (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        sync_roles()
        skills = {}
        for slug, name in SKILLS:
            skills[slug], _ = Skill.objects.update_or_create(slug=slug, defaults={"name": name})

        customer_group = Group.objects.get(name=Role.CUSTOMER)
        for spec in CUSTOMERS:
            customer, _ = Customer.objects.update_or_create(
                short_code=spec["short_code"],
                defaults={
                    "name": spec["name"],
                    "service_tier": spec["service_tier"],
                    "default_language": spec["default_language"],
                    "timezone": spec["timezone"],
                    "is_active": True,
                },
            )
            for domain in spec["domains"]:
                CustomerEmailDomain.objects.update_or_create(
                    domain=domain, defaults={"customer": customer}
                )
            for account_id, partition, name, plan in spec["accounts"]:
                CustomerAWSAccount.objects.update_or_create(
                    partition=partition,
                    account_id=account_id,
                    defaults={
                        "customer": customer,
                        "name": name,
                        "support_plan": plan,
                        "role_arn": f"arn:{partition}:iam::{account_id}:role/SPTPortalAccess",
                    },
                )
            email = f"customer@{spec['domains'][0]}"
            user = self._user(
                email,
                f"{spec['name']} contact",
                customer=customer,
                language=spec["default_language"],
            )
            user.groups.set([customer_group])

        for email, full_name, role, skill_slugs in STAFF:
            user = self._user(email, full_name, is_staff=True, language="zh-hans")
            user.groups.set([Group.objects.get(name=role)])
            user.skills.set([skills[s] for s in skill_slugs])

        self._oncall()
        self._incidents()
        self._postmortem()

        admin = self._user(
            "admin@partner.example", "Demo Administrator", is_staff=True, language="en"
        )
        if not admin.is_superuser:
            admin.is_superuser = True
            admin.save(update_fields=["is_superuser"])

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {Customer.objects.count()} customers, "
                f"{CustomerAWSAccount.objects.count()} AWS accounts, "
                f"{User.objects.count()} users (password {DEMO_PASSWORD})."
            )
        )

    def _oncall(self):
        """A default 24x7 schedule: engineer and manager alternate weekly, one primary while
        the other backs up as secondary; plus a business-hours calendar for the standard tier."""
        from datetime import date, time

        from sla.models import (
            BusinessCalendar,
            Level,
            OnCallLayer,
            OnCallLayerMember,
            OnCallSchedule,
            TierCalendar,
        )

        schedule, _ = OnCallSchedule.objects.update_or_create(
            name="24x7 support", defaults={"is_default": True, "timezone": "Asia/Shanghai"}
        )
        engineer = User.objects.get(email="engineer@partner.example")
        manager = User.objects.get(email="manager@partner.example")
        for level, members in (
            (Level.PRIMARY, [engineer, manager]),
            (Level.SECONDARY, [manager, engineer]),
        ):
            layer, _ = OnCallLayer.objects.update_or_create(
                schedule=schedule,
                level=level,
                defaults={
                    "rotation_start": date(2026, 1, 5),
                    "handover_time": time(9, 0),
                    "shift_hours": 24 * 7,
                },
            )
            layer.members.all().delete()
            for position, user in enumerate(members):
                OnCallLayerMember.objects.create(layer=layer, user=user, position=position)
        calendar, _ = BusinessCalendar.objects.update_or_create(
            name="China business hours",
            defaults={"is_24x7": False, "workday_start": time(9, 0), "workday_end": time(18, 0)},
        )
        TierCalendar.objects.update_or_create(
            service_tier=ServiceTier.STANDARD, defaults={"calendar": calendar}
        )

    def _incidents(self):
        """Contacts, an Alertmanager integration and a few alerts (one critical, which
        opens an incident), so the alert list and the board are not empty."""
        from datetime import UTC, datetime

        from incidents.alerts import ParsedAlert, alert_upsert, integration_create
        from incidents.models import AlertIntegration, ContactRole, EmergencyContact

        manager = User.objects.get(email="manager@partner.example")
        engineer = User.objects.get(email="engineer@partner.example")
        for role, user, name, phone, email in (
            (ContactRole.ON_CALL, None, "值班电话 / Duty phone", "+86 400 000 0000", ""),
            (ContactRole.TECH_LEAD, engineer, "", "", ""),
            (ContactRole.MANAGEMENT, manager, "", "", ""),
        ):
            EmergencyContact.objects.update_or_create(
                role=role, name=name, user=user, defaults={"phone": phone, "email": email}
            )
        integration = AlertIntegration.objects.filter(name="demo-alertmanager").first()
        if integration is None:
            integration, token = integration_create(name="demo-alertmanager", kind="alertmanager")
            self.stdout.write(
                f"Demo Alertmanager webhook: /hooks/alertmanager/?token={token} (shown once)"
            )
        started = datetime(2026, 11, 30, 2, 14, tzinfo=UTC)
        for title, level, service, status in (
            ("结算服务 API 错误率过高", "critical", "checkout", "firing"),
            ("Disk usage above 85% on db-1", "warning", "database", "firing"),
            ("CPU throttling", "warning", "monitoring", "resolved"),
        ):
            alert_upsert(
                parsed=ParsedAlert(
                    status=status,
                    title=title,
                    description="",
                    level=level,
                    source="alertmanager",
                    labels={"alertname": title, "service": service, "severity": level},
                    fingerprint=f"demo-{service}",
                    starts_at=started,
                ),
                integration=integration,
            )

    def _postmortem(self):
        """A recovered P1 with a draft postmortem and an action item, so the postmortem
        list and editor are not empty."""
        from datetime import timedelta

        from django.utils import timezone

        from incidents import services as incidents
        from incidents.models import Incident, Level, Role
        from postmortems import services as postmortems

        title = "对象存储上传失败 / Object storage uploads failing"
        if Incident.objects.filter(title=title).exists():
            return
        manager = User.objects.get(email="manager@partner.example")
        engineer = User.objects.get(email="engineer@partner.example")
        incident = incidents.incident_create(
            title=title, level=Level.P1, service="storage", actor=engineer
        )
        incidents.incident_assign_role(
            incident=incident, role=Role.COMMANDER, user=manager, actor=engineer
        )
        incidents.incident_change_status(incident=incident, status="in_progress", actor=engineer)
        incidents.incident_add_note(
            incident=incident,
            text="上传网关证书过期 / gateway certificate expired",
            actor=engineer,
            pinned=True,
        )
        incidents.incident_change_status(incident=incident, status="recovered", actor=engineer)
        postmortem, _created = postmortems.postmortem_create(incident=incident, actor=engineer)
        postmortems.postmortem_update(
            postmortem=postmortem,
            actor=engineer,
            root_cause="上传网关的 TLS 证书过期，自动续期任务在迁移后未再运行。",
            went_well="告警在 3 分钟内触发，值班工程师 10 分钟内确认。",
        )
        postmortems.action_item_create(
            postmortem=postmortem,
            title="证书到期监控 / certificate expiry alert",
            owner=engineer,
            due_date=timezone.localdate() + timedelta(days=7),
            priority="P1",
            actor=engineer,
        )

    def _user(self, email, full_name, *, customer=None, is_staff=False, language="zh-hans"):
        user, _ = User.objects.update_or_create(
            email=email,
            defaults={
                "full_name": full_name,
                "customer": customer,
                "is_staff": is_staff,
                "is_active": True,
                "preferred_language": language,
            },
        )
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        return user
