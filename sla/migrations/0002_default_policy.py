from django.db import migrations

# The seeds' defaults (seed 001, sla_config), copied here so the migration never changes.
DEFAULTS = [
    ("critical", 15, 240, "Production completely down; business severely affected",
     "生产环境完全中断，业务严重受影响"),
    ("high", 60, 480, "Production partly affected", "生产环境部分功能受影响"),
    ("medium", 240, 1440, "Non-critical function problem or degraded performance",
     "非关键功能问题或性能下降"),
    ("low", 1440, 4320, "General question, feature request or minor problem",
     "一般性咨询、功能请求或轻微问题"),
]


def create_defaults(apps, schema_editor):
    Version = apps.get_model("sla", "SLAPolicyVersion")
    Config = apps.get_model("sla", "SLAConfig")
    if Version.objects.exists():
        return
    version = Version.objects.create(note="defaults from the seeds")
    for priority, response, resolution, en, zh in DEFAULTS:
        Config.objects.create(
            policy=version,
            priority=priority,
            response_minutes=response,
            resolution_minutes=resolution,
            description=en,
            description_zh_hans=zh,
        )


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_policy_versions")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
