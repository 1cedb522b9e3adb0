import copy
import json
from datetime import date, time
from pathlib import Path

import pytest

from incidents.alerts import integration_create
from sla.models import Level, OnCallLayer, OnCallLayerMember, OnCallSchedule
from spt_portal.roles import Role
from tests.factories import StaffUserFactory

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alertmanager"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def firing_group():
    return load("spt_firing_k8s_group.json")


@pytest.fixture
def resolved_group(firing_group):
    body = copy.deepcopy(firing_group)
    body["status"] = "resolved"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2026-11-30T02:40:00.000Z"
    return body


@pytest.fixture
def alertmanager():
    integration, token = integration_create(name="prod-alertmanager", kind="alertmanager")
    return integration, token


@pytest.fixture
def grafana():
    return integration_create(name="grafana", kind="grafana")


@pytest.fixture
def post_hook(client):
    def _post(path, body, token, *, header=True):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        if header:
            return client.post(
                path,
                data=data,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
        return client.post(f"{path}?token={token}", data=data, content_type="application/json")

    return _post


@pytest.fixture
def on_call_team(manager):
    """A default schedule: primary Pat, secondary Sam (daily rotation since 2026-01-01);
    the manager fixture is layer 3."""
    primary = StaffUserFactory(
        email="pat@partner.example", full_name="Pat", phone="+8613800000001", role=Role.ENGINEER
    )
    secondary = StaffUserFactory(email="sam@partner.example", full_name="Sam", role=Role.ENGINEER)
    schedule = OnCallSchedule.objects.create(name="24x7", is_default=True, timezone="Asia/Shanghai")
    for level, user in ((Level.PRIMARY, primary), (Level.SECONDARY, secondary)):
        layer = OnCallLayer.objects.create(
            schedule=schedule,
            level=level,
            rotation_start=date(2026, 1, 1),
            handover_time=time(9),
            shift_hours=24,
        )
        OnCallLayerMember.objects.create(layer=layer, user=user)
    return {"primary": primary, "secondary": secondary, "manager": manager}
