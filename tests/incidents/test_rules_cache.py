"""The engine's "any rules active?" answer, asked after every ticket and incident change, is
kept per process and never outlives a change to a rule (spt_portal/config_cache.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Rule, RuleExecution
from spt_portal.models import JobOutbox
from tickets import services as tickets

pytestmark = pytest.mark.django_db(transaction=True)

NOTIFY = [{"type": "notify", "channels": ["email"], "recipients": ["ops@partner.example"]}]


def make_rule(**extra):
    obj = Rule(
        name="high tickets",
        rule_type="mixed",
        target="ticket",
        conditions={"priority": "high"},
        actions=NOTIFY,
        **extra,
    )
    obj.full_clean()
    obj.save()
    return obj


def open_ticket(customer, user, title="slow queries"):
    return tickets.ticket_create(
        customer=customer, requester=user, title=title, priority="high", actor=user
    )


def rule_queries(fn):
    with CaptureQueriesContext(connection) as queries:
        fn()
    return [q["sql"] for q in queries.captured_queries if '"incidents_rule"' in q["sql"]]


def evaluations():
    return JobOutbox.objects.filter(func="incidents.jobs.evaluate_rules").count()


def test_the_answer_comes_from_redis_until_a_rule_changes(acme, acme_user):
    assert rule_queries(lambda: open_ticket(acme, acme_user)) != []  # the first asks the db
    assert rule_queries(lambda: open_ticket(acme, acme_user)) == []  # then Redis answers
    assert evaluations() == 0

    def queues_evaluations():
        before = evaluations()
        open_ticket(acme, acme_user)
        return evaluations() > before

    rule = make_rule()
    assert queues_evaluations()
    assert RuleExecution.objects.filter(rule=rule).count() == 1

    rule.is_active = False
    rule.save()
    assert not queues_evaluations()

    rule.is_active = True
    rule.save()
    assert queues_evaluations()

    rule.delete()
    assert not queues_evaluations()


def test_a_rule_made_in_another_process_is_seen_by_the_next_change(acme, acme_user):
    open_ticket(acme, acme_user)  # "no rules" is kept
    # Another process saves a rule: its signal bumps the version in Redis, not this
    # process's memory.
    from spt_portal import config_cache

    Rule.objects.bulk_create(
        [Rule(name="r", rule_type="mixed", target="ticket", conditions={}, actions=NOTIFY)]
    )
    config_cache._bump("rules")
    before = evaluations()
    open_ticket(acme, acme_user)
    assert evaluations() > before
