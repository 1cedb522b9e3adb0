"""The rule engine (seed 002 "规则引擎") for tickets and incidents.

A rule has **conditions** (all must hold) and **actions**, in the seed's JSON:

    {"priority": ["high", "urgent"], "status": "pending",
     "time": {"field": "created_at", "operator": ">", "duration": "24h"}}
    [{"type": "escalate", "level": 1, "reason": "..."},
     {"type": "notify", "channels": ["email", "sms"], "recipients": ["a@b.example"]}]

Rules are checked when a ticket or incident changes (after commit, by a job) and every
minute for rules with a time condition. A rule fires once per object while the values its
conditions look at stay the same (``RuleExecution.key`` is unique), so a time rule does
not fire again every minute, and re-arms when the field it watches changes. Each action
runs on its own: one that fails is recorded with its error and retried with backoff,
and never stops the others.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sla.oncall import primary_on_call
from spt_portal import config_cache, outbox
from spt_portal.inputs import has_nul
from spt_portal.models import User
from spt_portal.notifications import notify_channels, notify_email, notify_sms, notify_webhook
from tickets import services as ticket_services
from tickets.models import EventKind, Ticket, TicketEvent
from tickets.models import Source as TicketSource
from tickets.models import Status as TicketStatus

from . import paging, services, timeline
from .models import (
    PRIORITY_ORDER,
    PRIORITY_TO_LEVEL,
    Incident,
    IncidentMetric,
    IncidentSource,
    IncidentStatus,
    IncidentTimelineEntry,
    Level,
    Role,
    Rule,
    RuleExecution,
    RuleTarget,
    Severity,
    TimelineKind,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=10)
SCAN_LIMIT = 500
OPERATORS = {">": "lt", ">=": "lte", "<": "gt", "<=": "gte"}  # age > d  <=>  field < now - d
DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
ACTION_TYPES = ("escalate", "notify", "assign", "change_status", "collect_metric")
CHANNELS = ("email", "sms", "slack", "webhook")
TICKET_PRIORITIES = ("critical", "high", "medium", "low")
# Longer ages make "now - duration" leave the calendar (and mean nothing for a rule).
MAX_DURATION = timedelta(days=100 * 365)


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Field:
    lookup: str  # the ORM path used to filter
    values: tuple | None = None  # allowed values (None: free text)


FIELDS = {
    RuleTarget.TICKET: {
        "priority": Field("priority", TICKET_PRIORITIES),
        "status": Field("status", tuple(TicketStatus.values)),
        "category": Field("category__slug"),
        "customer": Field("customer__short_code"),
        "source": Field("source", tuple(TicketSource.values)),
        "tags": Field("tags"),
    },
    RuleTarget.INCIDENT: {
        "priority": Field("level", tuple(PRIORITY_TO_LEVEL) + tuple(Level.values)),
        "level": Field("level", tuple(Level.values)),
        "severity": Field("severity", tuple(Severity.values)),
        "status": Field("status", tuple(IncidentStatus.values)),
        "category": Field("category"),
        "customer": Field("affected_customers__short_code"),
        "source": Field("source", tuple(IncidentSource.values)),
        "service": Field("service"),
    },
}
MODELS = {RuleTarget.TICKET: Ticket, RuleTarget.INCIDENT: Incident}
STATUSES = {RuleTarget.TICKET: TicketStatus.values, RuleTarget.INCIDENT: IncidentStatus.values}


def parse_duration(text) -> timedelta:
    """'24h', '30m', '2d', '1w', '1d12h' → timedelta."""
    match = DURATION.match(str(text or "").strip())
    if not match or not any(match.groups()):
        raise RuleError(
            _("Unknown duration %(value)r: use a number with w, d, h, m or s, e.g. 24h.")
            % {"value": text}
        )
    too_long = RuleError(
        _("Duration %(value)r is too long: at most %(days)d days.")
        % {"value": text, "days": MAX_DURATION.days}
    )
    if any(len(group or "") > 12 for group in match.groups()):
        raise too_long  # and int() refuses numbers of 4,300 digits or more
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION.total_seconds():
        raise too_long
    return timedelta(seconds=total)


def time_fields(target: str) -> list[str]:
    return sorted(
        f.name
        for f in MODELS[target]._meta.get_fields()
        if isinstance(f, models.DateTimeField) and not f.is_relation
    )


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


# --- validation ----------------------------------------------------------------------


def validate_conditions(target: str, conditions) -> list[str]:
    errors: list[str] = []
    if not isinstance(conditions, dict):
        return [_("Conditions must be a JSON object.")]
    fields = FIELDS[target]
    for name, value in conditions.items():
        if name == "time":
            errors += _validate_time(target, value)
            continue
        if name not in fields:
            errors.append(
                _("Unknown condition field %(name)r for %(target)s; known: %(known)s.")
                % {"name": name, "target": target, "known": ", ".join([*fields, "time"])}
            )
            continue
        values = _as_list(value)
        if not values or not all(isinstance(v, (str, int)) for v in values):
            errors.append(
                _("Condition %(name)r needs a value or a list of values.") % {"name": name}
            )
            continue
        if has_nul(values):
            errors.append(_("Condition %(name)r contains a NUL character.") % {"name": name})
            continue
        allowed = fields[name].values
        unknown = [v for v in values if allowed is not None and str(v) not in allowed]
        if unknown:
            errors.append(
                _("Unknown value %(value)r for %(name)r; allowed: %(allowed)s.")
                % {"value": unknown[0], "name": name, "allowed": ", ".join(allowed)}
            )
    return errors


def _validate_time(target: str, value) -> list[str]:
    if not isinstance(value, dict):
        return [_('The time condition is an object: {"field", "operator", "duration"}.')]
    errors = []
    unknown_keys = set(value) - {"field", "operator", "duration"}
    if unknown_keys:
        errors.append(
            _("Unknown key in the time condition: %(keys)s.")
            % {"keys": ", ".join(sorted(unknown_keys))}
        )
    if value.get("field") not in time_fields(target):
        errors.append(
            _("Unknown time field %(name)r; one of %(known)s.")
            % {"name": value.get("field"), "known": ", ".join(time_fields(target))}
        )
    operator = value.get("operator")
    if not isinstance(operator, str) or operator not in OPERATORS:
        errors.append(
            _("Unknown operator %(op)r; one of %(known)s.")
            % {"op": value.get("operator"), "known": ", ".join(OPERATORS)}
        )
    try:
        parse_duration(value.get("duration"))
    except RuleError as exc:
        errors.append(str(exc))
    return errors


def validate_actions(target: str, actions) -> list[str]:
    if not isinstance(actions, list) or not actions:
        return [_("Actions must be a non-empty JSON list.")]
    errors: list[str] = []
    for index, action in enumerate(actions, start=1):
        prefix = _("Action %(n)d") % {"n": index}
        if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
            errors.append(
                f"{prefix}: "
                + _("unknown type %(type)r; one of %(known)s.")
                % {
                    "type": action.get("type") if isinstance(action, dict) else action,
                    "known": ", ".join(ACTION_TYPES),
                }
            )
            continue
        problem = _ACTION_CHECKS[action["type"]](target, action)
        if not problem and has_nul(action):
            problem = _("it contains a NUL character.")
        if problem:
            errors.append(f"{prefix} ({action['type']}): {problem}")
    return errors


def _check_escalate(target, action):
    level = action.get("level", 1)
    if not isinstance(level, int) or isinstance(level, bool) or level < 1:
        return _("level must be a whole number from 1.")
    users = action.get("notify_users", [])
    if not isinstance(users, list) or not all(isinstance(u, int) for u in users):
        return _("notify_users must be a list of user ids.")
    return ""


def _check_notify(target, action):
    channels = action.get("channels")
    if not isinstance(channels, list) or not channels:
        return _("channels must be a non-empty list of %(known)s.") % {"known": ", ".join(CHANNELS)}
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        return _("unknown channel %(value)r; one of %(known)s.") % {
            "value": unknown[0],
            "known": ", ".join(CHANNELS),
        }
    recipients = action.get("recipients", [])
    if not isinstance(recipients, list) or not all(isinstance(r, (str, int)) for r in recipients):
        return _("recipients must be a list of email addresses, phone numbers, URLs or user ids.")
    if not recipients and not {"slack", "webhook"} & set(channels):
        return _("give recipients, or a slack or webhook channel.")
    return ""


def _check_assign(target, action):
    if action.get("assignee") == "on_call":
        return ""
    if not isinstance(action.get("assignee_id"), int):
        return _('give assignee_id (a user id) or "assignee": "on_call".')
    return ""


def _check_change_status(target, action):
    if action.get("status") not in STATUSES[target]:
        return _("unknown status %(value)r; one of %(known)s.") % {
            "value": action.get("status"),
            "known": ", ".join(STATUSES[target]),
        }
    return ""


def _check_collect_metric(target, action):
    if target != RuleTarget.INCIDENT:
        return _("metrics are collected for incidents only.")
    if not action.get("metric_name") or not action.get("metric_type"):
        return _("metric_type and metric_name are required.")
    try:
        Decimal(str(action.get("metric_value")))
    except InvalidOperation:
        return _("metric_value must be a number.")
    if not isinstance(action.get("tags", {}), dict):
        return _("tags must be an object.")
    return ""


_ACTION_CHECKS = {
    "escalate": _check_escalate,
    "notify": _check_notify,
    "assign": _check_assign,
    "change_status": _check_change_status,
    "collect_metric": _check_collect_metric,
}


def validate_rule(rule: Rule) -> None:
    """Raise ValidationError naming each unknown field, operator, duration or action."""
    if rule.target not in FIELDS:
        raise ValidationError({"target": _("Choose tickets or incidents.")})
    errors = {}
    condition_errors = validate_conditions(rule.target, rule.conditions)
    if condition_errors:
        errors["conditions"] = condition_errors
    action_errors = validate_actions(rule.target, rule.actions)
    if action_errors:
        errors["actions"] = action_errors
    if errors:
        raise ValidationError(errors)


# --- matching ------------------------------------------------------------------------


def _filter(rule: Rule, now) -> Q:
    q = Q()
    fields = FIELDS[rule.target]
    for name, value in rule.conditions.items():
        if name == "time":
            cutoff = now - parse_duration(value["duration"])
            q &= Q(**{f"{value['field']}__{OPERATORS[value['operator']]}": cutoff})
        elif name == "tags":
            continue  # JSON lists are matched in Python (the same on PostgreSQL and SQLite)
        else:
            values = [str(v) for v in _as_list(value)]
            if rule.target == RuleTarget.INCIDENT and name == "priority":
                values = [PRIORITY_TO_LEVEL.get(v, v) for v in values]
            q &= Q(**{f"{fields[name].lookup}__in": values})
    return q


def _tags_match(rule: Rule, obj) -> bool:
    wanted = rule.conditions.get("tags")
    if wanted is None:
        return True
    return bool(set(map(str, _as_list(wanted))) & set(getattr(obj, "tags", []) or []))


def matching(rule: Rule, *, now=None, queryset=None, limit: int | None = None) -> list:
    now = now or timezone.now()
    queryset = queryset if queryset is not None else MODELS[rule.target].objects.all()
    found = queryset.filter(_filter(rule, now)).distinct().order_by("pk")
    if limit:
        found = found[:limit]
    return [obj for obj in found if _tags_match(rule, obj)]


def _watched_values(rule: Rule, obj) -> dict:
    values = {}
    for name, value in rule.conditions.items():
        if name == "time":
            stamp = getattr(obj, value["field"])
            values["time"] = stamp.isoformat() if stamp else None
        elif name == "customer" and rule.target == RuleTarget.INCIDENT:
            values[name] = sorted(obj.affected_customers.values_list("short_code", flat=True))
        elif name == "category" and rule.target == RuleTarget.TICKET:
            values[name] = obj.category.slug if obj.category_id else None
        elif name == "customer":
            values[name] = obj.customer.short_code if obj.customer_id else None
        else:
            raw = getattr(obj, FIELDS[rule.target][name].lookup)
            values[name] = sorted(raw) if isinstance(raw, list) else raw
    return values


def execution_key(rule: Rule, obj) -> str:
    digest = hashlib.sha256(
        json.dumps(_watched_values(rule, obj), sort_keys=True, default=str).encode()
    ).hexdigest()[:40]
    return f"{rule.pk}:{rule.target}:{obj.pk}:{digest}"


# --- firing --------------------------------------------------------------------------


def _record_on_timeline(rule: Rule, obj, text: str) -> None:
    if isinstance(obj, Incident):
        timeline.record(obj, kind=TimelineKind.RULE, text=text, data={"rule": rule.pk})
    else:
        TicketEvent.objects.create(
            ticket=obj,
            kind=EventKind.OTHER,
            new_value=(_("Rule: %(name)s") % {"name": rule.name})[:200],
            note=text,
            internal=True,
        )


def fire(rule: Rule, obj, *, trigger: str, now=None) -> RuleExecution | None:
    """Run the rule's actions for ``obj`` unless it fired for these values already."""
    now = now or timezone.now()
    key = execution_key(rule, obj)
    try:
        with transaction.atomic():
            execution = RuleExecution.objects.create(
                rule=rule,
                key=key,
                target=rule.target,
                ticket=obj if isinstance(obj, Ticket) else None,
                incident=obj if isinstance(obj, Incident) else None,
                trigger=trigger,
                outcome=RuleExecution.Outcome.PENDING,
                # A lease: should this process die before the actions are recorded, the
                # retry sweep runs them.
                next_retry_at=now + LEASE,
            )
    except IntegrityError:
        return None  # fired before for these values (or by a concurrent evaluation)
    _run_actions(execution, rule, obj, list(enumerate(rule.actions)), now)
    Rule.objects.filter(pk=rule.pk).update(
        execution_count=F("execution_count") + 1, last_executed_at=now
    )
    return execution


def _run_actions(execution: RuleExecution, rule: Rule, obj, todo, now) -> None:
    """Run ``todo`` [(index, action)], each on its own; record every result with the
    action itself, so a retry runs what failed even if the rule was edited since."""
    results = {r["index"]: r for r in execution.actions_taken}
    for index, action in todo:
        try:
            with transaction.atomic():
                detail = ACTIONS[action["type"]](rule, obj, action, execution, index)
            results[index] = {
                "index": index,
                "type": action["type"],
                "ok": True,
                "detail": detail,
                "action": action,
            }
        except Exception as exc:  # an action's failure must never stop the others
            logger.warning(
                "rule %s (%s) action %s on %s %s failed: %s",
                rule.pk,
                rule.name,
                action.get("type"),
                rule.target,
                obj.pk,
                exc,
            )
            results[index] = {
                "index": index,
                "type": action.get("type"),
                "ok": False,
                "detail": f"{type(exc).__name__}: {exc}"[:500],
                "action": action,
            }
    taken = [results[i] for i in sorted(results)]
    failed = [r for r in taken if not r["ok"]]
    execution.actions_taken = taken
    execution.error = "\n".join(r["detail"] for r in failed)
    if not failed:
        execution.outcome = RuleExecution.Outcome.OK
        execution.next_retry_at = None
    else:
        execution.outcome = (
            RuleExecution.Outcome.FAILED
            if len(failed) == len(taken)
            else RuleExecution.Outcome.PARTIAL
        )
        execution.next_retry_at = (
            now + timedelta(minutes=2**execution.attempts)
            if execution.attempts < MAX_ATTEMPTS
            else None
        )
    execution.save(update_fields=["actions_taken", "error", "outcome", "next_retry_at", "attempts"])
    summary = "; ".join(f"{'✓' if r['ok'] else '✗'} {r['type']}: {r['detail']}" for r in taken)
    _record_on_timeline(
        rule, obj, _("Rule %(name)s fired: %(summary)s") % {"name": rule.name, "summary": summary}
    )
    logger.info(
        "rule %s fired on %s %s (%s): %s ok, %s failed",
        rule.pk,
        rule.target,
        obj.pk,
        execution.trigger,
        len(taken) - len(failed),
        len(failed),
    )


def retry_failed(now=None) -> int:
    """Cron: run again the failed actions of executions due for a retry (backoff 2, 4, 8,
    16 minutes; five attempts in all), and the actions of executions whose process died
    before recording them. Each row is claimed first, so two sweeps never run it twice."""
    now = now or timezone.now()
    due = list(
        RuleExecution.objects.filter(next_retry_at__lte=now)
        .order_by("next_retry_at")
        .values_list("pk", "next_retry_at")[:200]
    )
    done = 0
    for pk, stamp in due:
        claimed = RuleExecution.objects.filter(pk=pk, next_retry_at=stamp).update(
            next_retry_at=now + LEASE
        )
        if not claimed:
            continue
        execution = RuleExecution.objects.select_related("rule", "ticket", "incident").get(pk=pk)
        obj = execution.ticket or execution.incident
        if execution.outcome == RuleExecution.Outcome.PENDING and not execution.actions_taken:
            todo = list(enumerate(execution.rule.actions))  # never recorded: run them all
        else:
            todo = [(r["index"], r["action"]) for r in execution.actions_taken if not r["ok"]]
        execution.attempts += 1
        try:
            _run_actions(execution, execution.rule, obj, todo, now)
        except Exception:  # one broken row must not stop the sweep
            logger.exception("rule execution %s: retry failed", pk)
            continue
        done += 1
    return done


# --- the actions -----------------------------------------------------------------------


def _message(rule: Rule, action: dict) -> str:
    return action.get("message") or action.get("reason") or rule.description or rule.name


def _users(ids) -> list[User]:
    users = list(User.objects.filter(pk__in=list(ids), is_active=True))
    missing = set(ids) - {u.pk for u in users}
    if missing:
        raise RuleError(f"unknown users {sorted(missing)}")
    return users


def _notice(rule, obj, text, execution, index, recipients, channels=("email",)) -> int:
    """Send ``text`` about ``obj`` to recipients (emails, phones, URLs, user ids)."""
    link = settings.SITE_URL + (
        obj.get_absolute_url()
        if isinstance(obj, Incident)
        else f"/admin/tickets/ticket/{obj.pk}/change/"
    )
    sent = 0
    for recipient in recipients:
        if isinstance(recipient, int):
            user = _users([recipient])[0]
            recipient = user.email
        key = f"rule:{execution.pk}:{index}:{recipient}"
        recipient = str(recipient).strip()
        if recipient.startswith(("http://", "https://")) and "webhook" in channels:
            sent += bool(
                notify_webhook(
                    url=recipient,
                    payload={
                        "event": "rule.notify",
                        "rule": rule.name,
                        "object": str(obj),
                        "message": text,
                        "link": link,
                    },
                    obj=obj,
                    dedupe_key=key,
                )
            )
        elif "@" in recipient and "email" in channels:
            user = User.objects.filter(email__iexact=recipient).first()
            sent += bool(
                notify_email(
                    to=recipient,
                    template="rule_notice",
                    language=user.preferred_language if user else settings.LANGUAGE_CODE,
                    context={"rule": rule, "object": obj, "message": text, "link": link},
                    obj=obj,
                    dedupe_key=key,
                )
            )
        elif recipient and recipient[0] in "+0123456789" and "sms" in channels:
            sent += bool(
                notify_sms(
                    phone=recipient,
                    template_id=settings.SMS_TEMPLATE_RULE_NOTICE,
                    params={"name": rule.name[:20], "object": str(obj)[:30]},
                    obj=obj,
                    dedupe_key=key,
                )
            )
    if {"slack", "webhook"} & set(channels):
        sent += notify_channels(
            event="rule.notify",
            text=f"{text} ({obj}) {link}",
            data={"rule": rule.name, "target": rule.target, "id": obj.pk},
            obj=obj,
            dedupe_key=f"rule:{execution.pk}:{index}",
        )
    return sent


def _escalate(rule, obj, action, execution, index) -> str:
    level = action.get("level", 1)
    reason = _message(rule, action)
    notify_ids = action.get("notify_users", [])
    if isinstance(obj, Incident):
        paging.incident_escalate(
            incident=obj,
            level=level,
            reason=reason,
            actor=None,
            notify_users=notify_ids,
            auto_assign=bool(action.get("auto_assign")),
        )
        return _("escalated to level %(level)d") % {"level": level}
    ticket_services.ticket_escalate(ticket=obj, level=level, reason=reason, actor=None)
    users = _users(notify_ids)
    if action.get("auto_assign"):
        on_call = primary_on_call()
        if on_call is not None:
            ticket_services.ticket_assign(ticket=obj, assignee=on_call, actor=None)
    _notice(rule, obj, reason, execution, index, [u.email for u in users])
    return _("escalated to level %(level)d") % {"level": level}


def _notify(rule, obj, action, execution, index) -> str:
    sent = _notice(
        rule,
        obj,
        _message(rule, action),
        execution,
        index,
        action.get("recipients", []),
        action["channels"],
    )
    return _("%(n)d notices queued") % {"n": sent}


def _assign(rule, obj, action, execution, index) -> str:
    if action.get("assignee") == "on_call":
        user = primary_on_call()
        if user is None:
            raise RuleError("nobody is on call")
    else:
        user = _users([action["assignee_id"]])[0]
    if isinstance(obj, Incident):
        services.incident_assign_role(
            incident=obj, role=Role.ON_CALL, user=user, actor=None, note=_message(rule, action)
        )
    else:
        ticket_services.ticket_assign(ticket=obj, assignee=user, actor=None)
    return _("assigned to %(name)s") % {"name": user.get_full_name()}


def _change_status(rule, obj, action, execution, index) -> str:
    if isinstance(obj, Incident):
        services.incident_change_status(
            incident=obj, status=action["status"], actor=None, note=_message(rule, action)
        )
    else:
        ticket_services.ticket_change_status(ticket=obj, status=action["status"], actor=None)
    return _("status set to %(status)s") % {"status": action["status"]}


def _collect_metric(rule, obj, action, execution, index) -> str:
    metric = IncidentMetric.objects.create(
        incident=obj,
        metric_type=str(action["metric_type"])[:100],
        metric_name=str(action["metric_name"])[:255],
        metric_value=Decimal(str(action["metric_value"])),
        unit=str(action.get("unit", ""))[:50],
        tags=action.get("tags", {}),
        metadata={"rule": rule.pk},
    )
    return f"{metric.metric_name} = {metric.metric_value} {metric.unit}".strip()


ACTIONS = {
    "escalate": _escalate,
    "notify": _notify,
    "assign": _assign,
    "change_status": _change_status,
    "collect_metric": _collect_metric,
}


# --- evaluation ------------------------------------------------------------------------


def _active_rules(target: str) -> list[Rule]:
    rules = list(Rule.objects.filter(is_active=True, target=target))
    return sorted(rules, key=lambda r: (PRIORITY_ORDER.get(r.priority, 9), r.pk))


def evaluate(target: str, object_id: int, trigger: str = "update") -> int:
    """Check every active rule of ``target`` against one object; returns how many fired."""
    model = MODELS[target]
    fired = 0
    for rule in _active_rules(target):
        queryset = model.objects.filter(pk=object_id)
        for obj in matching(rule, queryset=queryset):
            if fire(rule, obj, trigger=trigger) is not None:
                fired += 1
    return fired


def _open_objects(target: str):
    model = MODELS[target]
    closed = TicketStatus.CLOSED if target == RuleTarget.TICKET else IncidentStatus.CLOSED
    return model.objects.exclude(status=closed)


def _scan_queryset(rule: Rule):
    """Open objects the rule has not fired for since its watched time was set, so the
    scan's limit always reaches the objects still to do."""
    field = rule.conditions["time"]["field"]
    relation = "ticket" if rule.target == RuleTarget.TICKET else "incident"
    fired = RuleExecution.objects.filter(
        rule=rule, **{relation: OuterRef("pk"), "created_at__gte": OuterRef(field)}
    )
    return _open_objects(rule.target).exclude(Exists(fired))


def evaluate_time_rules(now=None) -> dict[str, int]:
    """Cron, every minute: rules with a time condition, over the objects that match now."""
    now = now or timezone.now()
    counts = {"rules": 0, "fired": 0}
    for target in MODELS:
        for rule in _active_rules(target):
            if "time" not in rule.conditions:
                continue
            counts["rules"] += 1
            done = set(rule.executions.values_list("key", flat=True))
            for obj in matching(rule, now=now, queryset=_scan_queryset(rule), limit=SCAN_LIMIT):
                if execution_key(rule, obj) in done:
                    continue
                if fire(rule, obj, trigger="time", now=now) is not None:
                    counts["fired"] += 1
    if counts["fired"]:
        logger.info("time rules: %(rules)s rules checked, %(fired)s fired", counts)
    return counts


def describe_action(action: dict) -> str:
    kind = action.get("type")
    if kind == "escalate":
        return _("escalate to level %(level)s") % {"level": action.get("level", 1)}
    if kind == "notify":
        return _("notify %(who)s by %(channels)s") % {
            "who": ", ".join(map(str, action.get("recipients", []))) or "—",
            "channels": ", ".join(action.get("channels", [])),
        }
    if kind == "assign":
        return _("assign to %(who)s") % {
            "who": _("the engineer on call")
            if action.get("assignee") == "on_call"
            else f"#{action.get('assignee_id')}"
        }
    if kind == "change_status":
        return _("set status %(status)s") % {"status": action.get("status")}
    return _("record metric %(name)s") % {"name": action.get("metric_name")}


def dry_run(rule: Rule, *, limit: int = 50, now=None) -> list[dict]:
    """Which open objects match now, and whether the rule would fire for each."""
    now = now or timezone.now()
    queryset = _open_objects(rule.target)
    done = set(rule.executions.values_list("key", flat=True)) if rule.pk else set()
    rows = []
    for obj in matching(rule, now=now, queryset=queryset, limit=limit):
        rows.append(
            {
                "object": obj,
                "would_fire": not rule.pk or execution_key(rule, obj) not in done,
            }
        )
    return rows


# --- triggers: after every ticket or incident change ------------------------------------


def _active_in_database(target: str) -> bool:
    return Rule.objects.filter(is_active=True, target=target).exists()


def rules_active(target: str) -> bool:
    """Whether any rule of ``target`` is active: asked after every ticket and incident
    change, so kept per process until a rule changes (spt_portal/config_cache.py)."""
    return config_cache.cached("rules", target, lambda: _active_in_database(target))


def schedule_evaluation(target: str, object_id: int, trigger: str) -> None:
    """Queue an evaluation of the object (only while rules are active): the job is written
    with the change, in its transaction, and runs after its commit with the change's other
    jobs. Two changes in one transaction queue two jobs; the second finds nothing new to
    fire."""
    if rules_active(target):
        outbox.enqueue("incidents.jobs.evaluate_rules", target, object_id, trigger)


def on_ticket_event(sender, instance: TicketEvent, created, **kwargs):
    if created:
        trigger = "create" if instance.kind == EventKind.CREATED else "update"
        schedule_evaluation(RuleTarget.TICKET, instance.ticket_id, trigger)


def on_incident_entry(sender, instance: IncidentTimelineEntry, created, **kwargs):
    if created and instance.kind != TimelineKind.RULE:
        trigger = "create" if instance.kind == TimelineKind.CREATED else "update"
        schedule_evaluation(RuleTarget.INCIDENT, instance.incident_id, trigger)
