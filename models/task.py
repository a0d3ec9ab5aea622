"""Builds and analyses share one task table and one state machine:

    queued -> running -> completed | failed | cancelled      (queued -> cancelled too)

Every transition is a conditional UPDATE whose row count says whether it happened, so two workers
cannot both start a task, a cancelled task never turns completed, and a redelivered message for a
finished task does nothing.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.user import User

KINDS = ("build", "analysis")
STATUSES = ("queued", "running", "completed", "failed", "cancelled")
FINAL = ("completed", "failed", "cancelled")


class Task(BaseModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    kind = peewee.CharField(max_length=16, index=True)
    project_name = peewee.CharField(max_length=64, index=True)
    ref = peewee.CharField(max_length=255, null=True)
    goal = peewee.CharField(max_length=500, null=True)
    parameters = JSONField(default=dict)
    analysis_types = JSONField(default=list)
    status = peewee.CharField(max_length=16, default="queued", index=True)
    progress = peewee.IntegerField(default=0)
    created_by = peewee.ForeignKeyField(User, backref="tasks", on_delete="CASCADE")
    created_by_id: int  # peewee's accessor for the column, without loading the user
    created_at = peewee.DateTimeField(default=utc_naive, index=True)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    heartbeat_at = peewee.DateTimeField(null=True)
    worker = peewee.CharField(max_length=128, null=True)
    results = JSONField(null=True)
    error = peewee.TextField(null=True)

    @classmethod
    def claim(cls, task_id: uuid.UUID | str, worker: str) -> bool:
        """queued -> running; only one claimer wins."""
        now = utc_naive()
        query = cls.update(status="running", started_at=now, heartbeat_at=now, worker=worker).where(
            (cls.id == task_id) & (cls.status == "queued"))
        return bool(query.execute())

    @classmethod
    def finish(cls, task_id: uuid.UUID | str, status: str, results: Any = None, error: str | None = None) -> bool:
        """running -> completed|failed; loses (False) against a cancel that came first."""
        assert status in ("completed", "failed")
        values: dict[str, Any] = {"status": status, "finished_at": utc_naive(), "results": results, "error": error}
        if status == "completed":
            values["progress"] = 100
        return bool(cls.update(**values).where((cls.id == task_id) & (cls.status == "running")).execute())

    @classmethod
    def refuse(cls, task_id: uuid.UUID | str, error: str) -> bool:
        """queued -> failed, for a task whose message could not be sent."""
        query = cls.update(status="failed", finished_at=utc_naive(), error=error).where(
            (cls.id == task_id) & (cls.status == "queued"))
        return bool(query.execute())

    @classmethod
    def cancel(cls, task_id: uuid.UUID | str) -> str | None:
        """queued|running -> cancelled; returns the status it was cancelled from, or None if final."""
        for previous in ("queued", "running"):
            query = cls.update(status="cancelled", finished_at=utc_naive(), error="cancelled by request").where(
                (cls.id == task_id) & (cls.status == previous))
            if query.execute():
                return previous
        return None

    @classmethod
    def record_progress(cls, task_id: uuid.UUID | str, progress: int) -> bool:
        query = cls.update(progress=progress, heartbeat_at=utc_naive()).where(
            (cls.id == task_id) & (cls.status == "running"))
        return bool(query.execute())

    @classmethod
    def record_results(cls, task_id: uuid.UUID | str, results: Any) -> None:
        """Keep partial results on a task that was cancelled or failed while running."""
        cls.update(results=results).where(cls.id == task_id).execute()

    @classmethod
    def stale(cls, older_than: timedelta, limit: int = 100) -> list[Task]:
        """Running tasks whose worker has not heart-beaten for `older_than`."""
        cutoff = utc_naive() - older_than
        return list(cls.select().where((cls.status == "running") & (cls.heartbeat_at < cutoff)).limit(limit))

    @classmethod
    def visible_to(cls, user: User) -> Any:
        query = cls.select()
        return query if user.role == "admin" else query.where(cls.created_by == user.id)


class TaskLog(BaseModel):
    """Every log line of a task, so the log outlives the Redis stream's trim."""

    id = peewee.AutoField()
    task = peewee.ForeignKeyField(Task, backref="logs", on_delete="CASCADE")
    n = peewee.IntegerField()
    step = peewee.CharField(max_length=128, null=True)
    text = peewee.TextField()
    timestamp = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("task", "n"), True),)
