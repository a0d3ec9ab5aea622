"""A build's or analysis's start and cancel, as the API asks for them (the run itself is an actor's)."""
from __future__ import annotations

from typing import Any

from core.runtime import Runtime
from domain import cache_views, outbox
from domain.tasks.reporter import request_cancel
from domain.tasks.settle import announce_cancel
from models.db import db
from models.outbox import OutboxMessage
from models.task import Task
from models.user import User


def submit(kind: str, user: User, fields: dict[str, Any], actor: outbox.Sender) -> tuple[Task, OutboxMessage]:
    """Commit the task and its outbox row for `actor` together; the caller sends the row after this returns."""
    with db.atomic():
        task = Task.create(kind=kind, created_by=user, **fields)
        message = outbox.add(actor, str(task.id))
    return task, message


def refuse(task: Task, message: OutboxMessage, reason: str) -> None:
    """The row could not be sent: the task fails now, and its outbox row is never sent."""
    with db.atomic():
        Task.refuse(task.id, reason)
        OutboxMessage.mark_failed(message.id)


def cancel(rt: Runtime, kind: str, task: Task) -> str | None:
    """Cancel a queued or running task; its status before, or None if it had already finished."""
    previous = Task.cancel(task.id)
    if previous is None:
        return None
    if previous == "queued":
        announce_cancel(rt, kind, task)  # it never starts: the claim will find it cancelled
    else:
        request_cancel(rt.redis, str(task.id))  # the worker kills the process group and announces it
    cache_views.task_changed(rt.redis, task)
    return str(previous)
