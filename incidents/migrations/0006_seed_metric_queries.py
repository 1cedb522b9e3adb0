"""Seed 002's "常用查询" as Prometheus query presets, switched off until PROMETHEUS_URL
points at a Prometheus that has these metrics (rename them to your exporters' names)."""

from django.db import migrations

PRESETS = [
    ("CPU usage", 'cpu_usage_percent{service="$service"}', "%", "CPU使用率"),
    ("Memory usage", 'memory_usage_percent{service="$service"}', "%", "内存使用率"),
    ("Disk usage", 'disk_usage_percent{service="$service"}', "%", "磁盘使用率"),
    ("Network latency", 'network_latency_ms{service="$service"}', "ms", "网络延迟"),
    ("Service response time", 'service_response_time_ms{service="$service"}', "ms", "服务响应时间"),
]


def seed(apps, schema_editor):
    MetricQuery = apps.get_model("incidents", "MetricQuery")
    for position, (name, promql, unit, seed_name) in enumerate(PRESETS):
        MetricQuery.objects.get_or_create(
            name=name,
            defaults={
                "promql": promql,
                "unit": unit,
                "is_active": False,
                "position": position,
                "description": f"Seed 002 preset ({seed_name}); node_exporter users: adapt.",
            },
        )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_metric_queries")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
