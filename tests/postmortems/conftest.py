from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services
from incidents.models import Level, Role

RECOVERED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.get_fixed_timezone(480))


@pytest.fixture
def recovered_incident(engineer, manager, acme):
    """A P1 recovered at RECOVERED_AT (so now pending its postmortem), with a pinned note,
    an unpinned note, a commander and an affected customer."""
    start = RECOVERED_AT - timedelta(hours=2)
    with time_machine.travel(start, tick=False):
        incident = services.incident_create(
            title="结算服务不可用", level=Level.P1, service="billing", actor=engineer
        )
        incident.affected_customers.add(acme)
        services.incident_assign_role(
            incident=incident, role=Role.COMMANDER, user=manager, actor=engineer
        )
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        services.incident_change_status(incident=incident, status="in_progress", actor=engineer)
        services.incident_add_note(
            incident=incident, text="数据库连接池耗尽", actor=engineer, pinned=True
        )
        services.incident_add_note(incident=incident, text="喝咖啡", actor=engineer)
    with time_machine.travel(RECOVERED_AT, tick=False):
        services.incident_change_status(incident=incident, status="recovered", actor=engineer)
    incident.refresh_from_db()
    return incident


def publish(postmortem, engineer, manager, **kwargs):
    from postmortems import services as pm

    if not postmortem.root_cause:
        pm.postmortem_update(postmortem=postmortem, actor=engineer, root_cause="连接池耗尽")
    pm.postmortem_transition(postmortem=postmortem, status="in_review", actor=engineer)
    pm.postmortem_transition(postmortem=postmortem, status="approved", actor=manager)
    return pm.postmortem_transition(
        postmortem=postmortem, status="published", actor=engineer, **kwargs
    )
