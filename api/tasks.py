"""What the build and analysis routes share: create and enqueue, find, list, cancel, page logs."""
from __future__ import annotations

import logging
from typing import Any

import redis
from dramatiq.errors import BrokerConnectionError

from api.errors import ApiError, not_found
from api.services import services
from models.db import db
from models.outbox import OutboxMessage
from models.project import Project
from models.task import Task, TaskLog
from models.user import User
from workers import cache_views, outbox
from workers.reporter import request_cancel
from workers.settle import announce_cancel

log = logging.getLogger(__name__)
ACTORS = {"build": "run_build", "analysis": "run_analysis"}
LABELS = {"build": "Build", "analysis": "Analysis"}


def create(kind: str, user: User, fields: dict[str, Any]) -> Task:
    """Commit the task and its outbox row together, then send; 503 (and a failed row) if the broker is down."""
    if not Project.select().where(Project.name == fields["project_name"]).exists():
        raise not_found("Project", fields["project_name"])
    with db.atomic():
        task = Task.create(kind=kind, created_by=user, **fields)
        message = outbox.add(ACTORS[kind], str(task.id))
    try:
        outbox.send(message)
    except (redis.RedisError, BrokerConnectionError):
        log.warning("broker unavailable; task refused", extra={"task_id": str(task.id)})
        with db.atomic():
            Task.refuse(task.id, "could not be queued: broker unavailable")
            OutboxMessage.mark_failed(message.id)
        raise ApiError(503, "The task queue is unavailable; nothing was started") from None
    cache_views.task_changed(services().redis, task)
    return task


def find(kind: str, user: User, task_id: object) -> Task:
    """The caller's task (any task for admins); someone else's is as absent as a missing one."""
    task = Task.visible_to(user).where((Task.id == task_id) & (Task.kind == kind)).first()
    if task is None:
        raise not_found(LABELS[kind], task_id)
    return task


def listing(kind: str, user: User, args: dict[str, Any]) -> dict[str, Any]:
    query = Task.visible_to(user).where(Task.kind == kind)
    for name in ("status", "project_name"):
        if args.get(name):
            query = query.where(getattr(Task, name) == args[name])
    query = query.order_by(Task.created_at.desc(), Task.id.desc())
    return {"items": list(query.limit(args["limit"]).offset(args["offset"])), "total": query.count(),
            "limit": args["limit"], "offset": args["offset"]}


def cancel(kind: str, user: User, task_id: object) -> str:
    task = find(kind, user, task_id)
    previous = Task.cancel(task.id)
    if previous is None:
        raise ApiError(409, f"{LABELS[kind]} {task.id} has already finished ({task.status})")
    svc = services()
    if previous == "queued":
        announce_cancel(kind, task, svc.redis)  # it never starts: the claim will find it cancelled
    else:
        request_cancel(svc.redis, str(task.id))  # the worker kills the process group and announces it
    cache_views.task_changed(svc.redis, task)
    return f"{LABELS[kind]} {task.id} cancelled"


def log_page(kind: str, user: User, task_id: object, offset: int, limit: int) -> dict[str, Any]:
    task = find(kind, user, task_id)
    lines = list(TaskLog.select().where((TaskLog.task == task.id) & (TaskLog.n >= offset))
                 .order_by(TaskLog.n).limit(limit))
    return {"lines": lines, "next_offset": lines[-1].n + 1 if lines else offset}
