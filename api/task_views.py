"""What the build and analysis routes share: create and send, find, list, cancel, page logs."""
from __future__ import annotations

import logging
from typing import Any

from api.errors import ApiError, not_found
from api.services import services
from domain import cache_views, outbox
from domain.outbox import Sender
from domain.tasks import lifecycle
from models.project import Project
from models.task import Task, TaskLog
from models.user import User

log = logging.getLogger(__name__)
LABELS = {"build": "Build", "analysis": "Analysis"}


def create(kind: str, actor: Sender, user: User, fields: dict[str, Any]) -> Task:
    """Commit the task and its outbox row together, then send to `actor`; 503 (and a failed row) if the broker
    is down."""
    if not Project.select().where(Project.name == fields["project_name"]).exists():
        raise not_found("Project", fields["project_name"])
    task, message = lifecycle.submit(kind, user, fields, actor)
    try:
        outbox.send(message, actor)
    except outbox.BROKER_ERRORS:
        log.warning("broker unavailable; task refused", extra={"task_id": str(task.id)})
        lifecycle.refuse(task, message, "could not be queued: broker unavailable")
        raise ApiError(503, "The task queue is unavailable; nothing was started") from None
    cache_views.task_changed(services().redis, task)
    return task


def visible(kind: str, user: User, task_id: object) -> Task | None:
    """The caller's task (any task for admins); someone else's is as absent as a missing one."""
    task: Task | None = Task.visible_to(user).where((Task.id == task_id) & (Task.kind == kind)).first()
    return task


def find(kind: str, user: User, task_id: object) -> Task:
    """`visible`, or a 404."""
    task = visible(kind, user, task_id)
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
    if lifecycle.cancel(services().runtime, kind, task) is None:
        raise ApiError(409, f"{LABELS[kind]} {task.id} has already finished ({task.status})")
    return f"{LABELS[kind]} {task.id} cancelled"


def log_page(kind: str, user: User, task_id: object, offset: int, limit: int) -> dict[str, Any]:
    task = find(kind, user, task_id)
    lines = list(TaskLog.select().where((TaskLog.task == task.id) & (TaskLog.n >= offset))
                 .order_by(TaskLog.n).limit(limit))
    return {"lines": lines, "next_offset": lines[-1].n + 1 if lines else offset}
