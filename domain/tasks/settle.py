"""End a task: one conditional transition, its domain event in the same transaction, its final stream event."""
from __future__ import annotations

from typing import Any

from core import stream_events, streams
from core.runtime import Runtime
from domain import cache_views, platform_metrics
from domain.events import EVENT_TYPES, Emitted, emit, publish
from domain.tasks.reporter import Reporter
from models.db import db
from models.task import Task


def _event(kind: str, status: str, task: Task, results: Any, error: str | None) -> Emitted | None:
    """The task's domain event, for its owner's (and admins') webhooks; call in the transition's transaction."""
    event_type = f"{kind}.{status}"
    if event_type not in EVENT_TYPES:
        return None
    return emit(event_type, {"task_id": str(task.id), "project_name": task.project_name, "status": status,
                             "results": results, "error": error}, owner_id=task.created_by_id)


def announce_cancel(rt: Runtime, kind: str, task: Task, results: Any = None) -> None:
    """After a cancel won the transition: the event, and the stream's last word."""
    with db.atomic():
        emitted = _event(kind, "cancelled", task, results, "cancelled by request")
    publish(rt.broker, emitted)
    streams.append(rt.redis, str(task.id), stream_events.error("cancelled", "cancelled by request", results=results))
    cache_views.task_changed(rt.redis, task)


def settle(rt: Runtime, kind: str, task: Task, reporter: Reporter, status: str, results: Any,
           error: str | None) -> str:
    """Record how a run ended; a cancel that came first wins. Returns the final status."""
    final = _settle(rt, kind, task, reporter, status, results, error)
    cache_views.task_changed(rt.redis, task)
    _measure(kind, task)
    return final


def _settle(rt: Runtime, kind: str, task: Task, reporter: Reporter, status: str, results: Any,
            error: str | None) -> str:
    if status in ("completed", "failed"):
        with db.atomic():
            won = Task.finish(task.id, status, results, error)
            emitted = _event(kind, status, task, results, error) if won else None
        publish(rt.broker, emitted)
        if won:
            if status == "completed":
                reporter.completion(status, results)
            else:
                reporter.error(status, error or "failed", results)
            return status
    Task.record_results(task.id, results)
    current = Task.get_by_id(task.id).status
    if current == "cancelled":
        announce_cancel(rt, kind, task, results)
    return str(current)  # the reaper may have failed it first: it said so itself


def _measure(kind: str, task: Task) -> None:
    """The run's duration as a platform metric (`conveyor.build.duration_seconds`, ...)."""
    row = Task.get_by_id(task.id)
    if row.started_at and row.finished_at:
        platform_metrics.record(f"conveyor.{kind}.duration_seconds", (row.finished_at - row.started_at).total_seconds(),
                                "s", project=row.project_name, status=row.status)


def abandon(rt: Runtime, task: Task, error: str) -> bool:
    """Fail a running task whose worker stopped heart-beating; False if it ended meanwhile."""
    with db.atomic():
        won = Task.finish(task.id, "failed", task.results, error)
        emitted = _event(task.kind, "failed", task, task.results, error) if won else None
    publish(rt.broker, emitted)
    if won:
        streams.append(rt.redis, str(task.id), stream_events.error("failed", error))
        cache_views.task_changed(rt.redis, task)
    return won
