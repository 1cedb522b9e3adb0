"""The three example rules of seed 002, inactive, adapted to this product's fields."""

from django.db import migrations

RULES = [
    {
        "name": "高优先级事件自动升级",
        "description": (
            "当事件优先级为high或urgent时，自动升级到下一级别。Seed 002's example, adapted: "
            "incidents have levels (high → P1, urgent → P0) and no status 'new', so the "
            "rule watches pending (unacknowledged) incidents; replace the example "
            "recipient before switching it on."
        ),
        "rule_type": "escalation",
        "target": "incident",
        "priority": "high",
        "conditions": {"priority": ["high", "urgent"], "status": "pending"},
        "actions": [
            {"type": "escalate", "level": 1, "message": "事件优先级较高，已自动升级"},
            {"type": "notify", "channels": ["email", "sms"], "recipients": ["manager@company.com"]},
        ],
    },
    {
        "name": "长时间未处理事件告警",
        "description": (
            "当事件超过24小时未处理时，发送告警通知。Seed 002's example as written (incidents "
            "in progress for more than 24 hours since they were created); replace the "
            "example recipient before switching it on."
        ),
        "rule_type": "alert",
        "target": "incident",
        "priority": "medium",
        "conditions": {
            "status": "in_progress",
            "time": {"field": "created_at", "operator": ">", "duration": "24h"},
        },
        "actions": [
            {
                "type": "notify",
                "channels": ["email", "slack"],
                "recipients": ["team@company.com"],
                "message": "事件长时间未处理，需要关注",
            }
        ],
    },
    {
        "name": "严重事件自动分配",
        "description": (
            "当事件严重程度为critical时，自动分配给高级工程师。Seed 002's example, adapted: "
            "status 'new' is 'pending' here, and the seed's fixed assignee_id 1 is the "
            "engineer on call now (user 1 need not exist); put an assignee_id to name "
            "somebody."
        ),
        "rule_type": "assignment",
        "target": "incident",
        "priority": "high",
        "conditions": {"severity": "critical", "status": "pending"},
        "actions": [
            {"type": "assign", "assignee": "on_call", "message": "严重事件已自动分配给高级工程师"}
        ],
    },
]


def create(apps, schema_editor):
    Rule = apps.get_model("incidents", "Rule")
    for spec in RULES:
        if not Rule.objects.filter(name=spec["name"]).exists():
            Rule.objects.create(is_active=False, **spec)


def remove(apps, schema_editor):
    Rule = apps.get_model("incidents", "Rule")
    Rule.objects.filter(name__in=[r["name"] for r in RULES], execution_count=0).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_rules")]
    operations = [migrations.RunPython(create, remove)]
