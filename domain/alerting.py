"""Evaluate alert rules: raise an alert when a rule's condition holds for a tag set and none is open,
resolve it when the condition clears. `alert.created` and `alert.resolved` go out through the outbox."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import peewee
import redis

from core import stream_events, streams
from core.runtime import Runtime
from domain import cache_views, rollups
from domain.events import Emitted, emit, publish
from models.alert import Alert, AlertRule
from models.db import db, utc_naive

log = logging.getLogger(__name__)
BASELINE = timedelta(days=7)
ALERTS_STREAM = "alerts"  # the Redis stream the alerts WebSocket relays (`core.streams`)
ALERT_VIEWS = ("alerts_list", "alerts_summary", "dashboard")  # the cached views an alert's change makes stale


def _limit(rule: AlertRule, baseline: tuple[float, int] | None) -> float | None:
    """The value the observation is compared with; None when a baseline rule has no history yet."""
    if rule.threshold is not None:
        return float(rule.threshold)
    if baseline is None:
        return None
    value = baseline[0]
    if rule.aggregation == "count":  # a count over 7 days, scaled to the window
        value *= rule.window_minutes / (BASELINE.total_seconds() / 60)
    return float(rule.baseline_factor or 0.0) * value


def _context(rule: AlertRule, observed: float | None, count: int, limit: float | None,
             baseline: tuple[float, int] | None) -> dict[str, Any]:
    return {"observed": observed, "aggregation": rule.aggregation, "comparison": rule.comparison,
            "threshold": rule.threshold, "baseline": None if baseline is None else baseline[0],
            "baseline_factor": rule.baseline_factor, "limit": limit, "window_minutes": rule.window_minutes,
            "point_count": count}


def alert_data(alert: Alert) -> dict[str, Any]:
    return {"alert_id": alert.id, "owner_id": alert.owner_id,
            "rule": alert.rule_name, "metric": alert.metric, "severity": alert.severity,
            "status": alert.status, "tags": alert.tags, "message": alert.message, "context": alert.context,
            "name": alert.rule_name, "operation_type": alert.metric}


def _raise(client: redis.Redis, rule: AlertRule, tags_text: str, context: dict[str, Any]) -> Emitted | None:
    sign = ">" if rule.comparison == "gt" else "<"
    tags = json.loads(tags_text)
    where = f" for {', '.join(f'{k}={v}' for k, v in tags.items())}" if tags else ""
    message = (f"{rule.metric} {rule.aggregation} {context['observed']:.6g} {sign} {context['limit']:.6g} "
               f"over the last {rule.window_minutes} min{where}")
    return raise_alert(client, Alert.key(rule.id, tags_text), rule=rule.id, rule_name=rule.name, metric=rule.metric,
                       tags=tags, severity=rule.severity, message=message, context=context)


def raise_alert(client: redis.Redis, open_key: str, **fields: Any) -> Emitted | None:
    """Open an alert under `open_key` and emit `alert.created`; None when one is open under that key already.
    Call outside a transaction and `publish()` the result."""
    try:
        with db.atomic():
            alert = Alert.create(open_key=open_key, **fields)
            emitted = emit("alert.created", alert_data(alert), owner_id=alert.owner_id)
    except peewee.IntegrityError:  # another evaluation opened it first
        return None
    _announce(client, alert)
    cache_views.changed(client, ALERT_VIEWS, alert.owner_id)
    return emitted


def _announce(client: redis.Redis, alert: Alert) -> None:
    """Live, to the alerts WebSocket; best effort (the alert and its webhook event are committed)."""
    try:
        streams.append(client, ALERTS_STREAM, stream_events.alert(alert_data(alert)))
    except redis.RedisError:
        log.warning("could not announce an alert on the live channel", extra={"alert_id": alert.id})


def resolve(client: redis.Redis, alert: Alert, reason: str) -> Emitted | None:
    """Close an open alert (its condition cleared, or by hand); None if it was already resolved."""
    with db.atomic():
        now = utc_naive()
        closed = Alert.update(status="resolved", resolved_at=now, open_key=None,
                              context={**alert.context, "resolution": reason}).where(
            (Alert.id == alert.id) & Alert.open_key.is_null(False)).execute()
        if not closed:
            return None
        alert = Alert.get_by_id(alert.id)
        emitted = emit("alert.resolved", alert_data(alert), owner_id=alert.owner_id)
    cache_views.changed(client, ALERT_VIEWS, alert.owner_id)
    return emitted


def acknowledge(client: redis.Redis, alerts: list[Alert], by: str) -> list[int]:
    """Acknowledge those of `alerts` that are still pending; the ids this call acknowledged (a conditional update
    per alert, so one that another request acknowledged meanwhile is not counted twice)."""
    now, done = utc_naive(), []
    with db.atomic():
        for alert in alerts:
            if alert.status == "pending" and Alert.update(status="acknowledged", acknowledged_at=now,
                                                          acknowledged_by=by).where(
                    (Alert.id == alert.id) & (Alert.status == "pending")).execute():
                done.append(alert.id)
    for owner in {alert.owner_id for alert in alerts if alert.id in done}:
        cache_views.changed(client, ALERT_VIEWS, owner)
    return done


def close_rule_alerts(rt: Runtime, rule_id: int, reason: str) -> int:
    """Resolve a rule's open alerts (the rule is being deleted or switched off: nothing would resolve them)."""
    closed = 0
    for alert in Alert.select().where((Alert.rule == rule_id) & Alert.open_key.is_null(False)):
        emitted = resolve(rt.redis, alert, reason)
        closed += emitted is not None
        publish(rt.broker, emitted)
    return closed


def evaluate_rule(rt: Runtime, rule: AlertRule, now: datetime) -> tuple[int, int]:
    start = now - timedelta(minutes=rule.window_minutes)
    observed = rollups.by_tag_set(rule.metric, rule.aggregation, start, now)
    baselines = rollups.by_tag_set(rule.metric, rule.aggregation, start - BASELINE, start) \
        if rule.threshold is None else {}
    open_alerts = {str(a.open_key).split("|", 1)[1]: a for a in
                   Alert.select().where((Alert.rule == rule.id) & Alert.open_key.is_null(False))}
    created = resolved = 0
    for tags_text in sorted(set(observed) | set(open_alerts)):
        value, count = observed.get(tags_text, (0.0, 0) if rule.aggregation == "count" else (None, 0))
        baseline = baselines.get(tags_text)
        limit = _limit(rule, baseline)
        firing = value is not None and limit is not None and (value > limit if rule.comparison == "gt"
                                                              else value < limit)
        if firing and tags_text not in open_alerts:
            emitted = _raise(rt.redis, rule, tags_text, _context(rule, value, count, limit, baseline))
            created += emitted is not None
        elif not firing and tags_text in open_alerts:
            emitted = resolve(rt.redis, open_alerts[tags_text], "the condition cleared")
            resolved += emitted is not None
        else:
            continue
        publish(rt.broker, emitted)
    return created, resolved


def evaluate(rt: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Every active rule, now. Returns how many rules ran and alerts were raised and resolved."""
    now = now or utc_naive()
    rules = list(AlertRule.select().where(AlertRule.is_active == True))  # noqa: E712
    totals = [evaluate_rule(rt, rule, now) for rule in rules]
    return {"rules": len(rules), "raised": sum(c for c, _ in totals), "resolved": sum(r for _, r in totals)}
