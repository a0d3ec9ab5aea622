"""The read views kept in the cache (`core.cache`): what each entry holds, who it is for, and warming.

Built here, not in the API, so that the `warm_cache` actor builds exactly what the API serves. Each is
per user (`u{id}`): a user's webhooks, the alerts they may see (listed and summed up), their dashboard. Writes call
`changed(entry, owner_id)`, which drops the entry for that owner and for every admin (who see all).
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import peewee
import redis

from core import cache
from core.timeutil import isoformat
from models.alert import OPEN, SEVERITIES, Alert
from models.cluster import Cluster
from models.db import utc_naive
from models.delivery import Delivery
from models.task import Task
from models.user import User
from models.webhook import WebhookEndpoint

log = logging.getLogger(__name__)
DEFAULT_PAGE = {"limit": 20, "offset": 0}
WARM_USERS = 500  # at most this many users' entries a warm run builds


def webhook_item(w: WebhookEndpoint) -> dict[str, Any]:
    """A webhook endpoint as `WebhookSchema` shows it (a test holds the two equal)."""
    return {"id": w.id, "name": w.name, "url": w.url, "description": w.description, "is_active": w.is_active,
            "events": w.events, "retry_policy": {"max_retries": w.max_retries, "backoff_base": w.backoff_base,
                                                 "max_backoff": w.max_backoff},
            "timeout_seconds": w.timeout_seconds, "ssl_verify": w.ssl_verify,
            "rate_limit_per_hour": w.rate_limit_per_hour, "last_used_at": isoformat(w.last_used_at),
            "failure_count": w.failure_count, "created_by": w.created_by.username,
            "created_at": isoformat(w.created_at), "updated_at": isoformat(w.updated_at)}


def webhooks_page(user: User, limit: int, offset: int) -> dict[str, Any]:
    query = WebhookEndpoint.select(WebhookEndpoint, User).join(User)
    if user.role != "admin":
        query = query.where(WebhookEndpoint.created_by == user.id)
    rows = query.order_by(WebhookEndpoint.id.desc())
    return {"items": [webhook_item(w) for w in rows.limit(limit).offset(offset)], "total": rows.count(),
            "limit": limit, "offset": offset}


def _visible_alerts(user: User) -> Any:
    return Alert.select().where(Alert.visible_to(user.id, user.role == "admin"))


def alert_item(a: Alert) -> dict[str, Any]:
    """An alert as `AlertSchema` shows it (a test holds the two equal)."""
    return {"id": a.id, "rule_id": a.__data__.get("rule"), "rule": a.rule_name, "metric": a.metric, "tags": a.tags,
            "severity": a.severity, "status": a.status, "message": a.message, "context": a.context,
            "created_at": isoformat(a.created_at), "acknowledged_at": isoformat(a.acknowledged_at),
            "acknowledged_by": a.acknowledged_by, "resolved_at": isoformat(a.resolved_at),
            "name": a.rule_name, "description": a.message, "operation_type": a.metric,
            "updated_at": isoformat(a.updated_at)}


def alerts_page(user: User, args: Mapping[str, Any]) -> dict[str, Any]:
    """The alerts a user may see, newest first: a page (`limit`, `offset`), of one `status` and `severity` when
    `args` give them."""
    query = _visible_alerts(user)
    for name in ("status", "severity"):
        if args.get(name):
            query = query.where(getattr(Alert, name) == args[name])
    rows = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(args["limit"]).offset(args["offset"])
    return {"items": [alert_item(a) for a in rows], "total": query.count(), "limit": args["limit"],
            "offset": args["offset"]}


def alerts_summary(user: User) -> dict[str, Any]:
    """Open alerts by severity and status, and the five newest, as this user may see them."""
    counts = {(a.severity, a.status): a.n for a in _visible_alerts(user).select(
        Alert.severity, Alert.status, peewee.fn.COUNT(Alert.id).alias("n")).where(Alert.status << OPEN).group_by(
        Alert.severity, Alert.status)}
    latest = _visible_alerts(user).where(Alert.status << OPEN).order_by(Alert.created_at.desc(), Alert.id.desc())
    return {"open": sum(counts.values()),
            "by_severity": {s: sum(n for (sev, _), n in counts.items() if sev == s) for s in SEVERITIES},
            "by_status": {s: sum(n for (_, st), n in counts.items() if st == s) for s in OPEN},
            "latest": [{"id": a.id, "rule": a.rule_name, "severity": a.severity, "status": a.status,
                        "message": a.message, "created_at": isoformat(a.created_at)} for a in latest.limit(5)]}


def dashboard(user: User) -> dict[str, Any]:
    """What a user's front page shows: their builds of the last day, webhooks, alerts and clusters."""
    since = utc_naive() - timedelta(days=1)
    tasks = Task.visible_to(user)
    by_status = {row.status: row.n for row in tasks.select(Task.status, peewee.fn.COUNT(Task.id).alias("n")).where(
        Task.created_at >= since).group_by(Task.status)}
    hooks = WebhookEndpoint.select()
    clusters = Cluster.select()
    if user.role != "admin":
        hooks, clusters = hooks.where(WebhookEndpoint.created_by == user.id), clusters.where(Cluster.owner == user.id)
    return {
        "tasks_last_day": by_status,
        "recent_tasks": [{"id": str(t.id), "kind": t.kind, "project": t.project_name, "status": t.status,
                          "progress": t.progress, "created_at": isoformat(t.created_at),
                          "started_at": t.started_at and isoformat(t.started_at),
                          "finished_at": t.finished_at and isoformat(t.finished_at),
                          "duration_seconds": round((t.finished_at - t.started_at).total_seconds(), 3)
                          if t.started_at and t.finished_at else None}
                         for t in tasks.order_by(Task.created_at.desc()).limit(5)],
        "webhooks": {"active": hooks.where(WebhookEndpoint.is_active == True).count(),  # noqa: E712
                     "disabled": hooks.where(WebhookEndpoint.is_active == False).count(),  # noqa: E712
                     "dead_deliveries": Delivery.select().join(WebhookEndpoint).where(
                         (Delivery.status == "dead") & WebhookEndpoint.id.in_(hooks.select(WebhookEndpoint.id))
                     ).count()},
        "alerts": alerts_summary(user)["by_severity"],
        "clusters": {status: clusters.where(Cluster.status == status).count()
                     for status in ("healthy", "unhealthy", "unknown")},
    }


def changed(client: redis.Redis, entries: tuple[str, ...], owner_id: int | None) -> int:
    """A write changed `entries` for `owner_id` (None: for everyone): drop them for that owner and the admins."""
    if owner_id is None:
        return sum(cache.invalidate(client, entry) for entry in entries)
    admins = [u.id for u in User.select(User.id).where(User.role == "admin")]
    scopes = [cache.user_scope(i) for i in {owner_id, *admins}]
    return sum(cache.invalidate(client, entry, scopes) for entry in entries)


def task_changed(client: redis.Redis, task: Task) -> None:
    """A build or analysis was created or changed state: its owner's (and admins') dashboards are stale."""
    changed(client, ("dashboard",), task.created_by_id)


def warm(client: redis.Redis, ttls: Mapping[str, int]) -> int:
    """Build every entry's default view for the admins and the users who have something to see."""
    owners = WebhookEndpoint.select(WebhookEndpoint.created_by).distinct()
    active = Task.select(Task.created_by).where(Task.created_at >= utc_naive() - timedelta(days=1)).distinct()
    users = User.select().where(User.is_active & ((User.role == "admin") | User.id.in_(owners) | User.id.in_(active))
                                ).order_by(User.id).limit(WARM_USERS)
    warmed = 0
    for user in users:
        scope = cache.user_scope(user.id)
        views: tuple[tuple[str, Any, Callable[[], Any]], ...] = (
            ("webhooks_list", DEFAULT_PAGE, functools.partial(webhooks_page, user, **DEFAULT_PAGE)),
            ("alerts_list", DEFAULT_PAGE, functools.partial(alerts_page, user, DEFAULT_PAGE)),
            ("alerts_summary", None, functools.partial(alerts_summary, user)),
            ("dashboard", None, functools.partial(dashboard, user)))
        for entry, query, build in views:
            warmed += cache.store(client, entry, scope, query, build, ttls[entry])
    return warmed


ENGINEERING_VIEWS = ("team", "repository", "engineering_figures")


def organization_changed(client: redis.Redis, organization_id: int) -> int:
    """Activity or a write changed what an organization's members see: its teams, repositories and figures."""
    scope = [cache.organization_scope(organization_id)]
    return sum(cache.invalidate(client, entry, scope) for entry in ENGINEERING_VIEWS)


def repositories_polled(client: redis.Redis, organization_id: int) -> int:
    """A poll that stored nothing still changed how its repository shows (status, last poll, errors)."""
    return cache.invalidate(client, "repository", [cache.organization_scope(organization_id)])
