"""`run_build`: one build, from its claim to its settled end (the work itself is `domain.builds.runner`)."""
from __future__ import annotations

from dramatiq.middleware import Shutdown

from core.runtime import Runtime
from domain import cache_views
from domain.builds import sandbox
from domain.builds.runner import Run, execute, worker_id
from domain.events import emit, publish
from domain.tasks.heartbeat import TaskHeartbeat
from domain.tasks.reporter import Reporter
from domain.tasks.settle import settle
from models.db import db
from models.project import Project
from models.task import Task
from workers.registry import actor

# Our own deadline (BUILD_MAX_SECONDS) ends builds; Dramatiq's limit is only a backstop.
ACTOR_TIME_LIMIT_MS = 26 * 3600 * 1000


@actor(queue_name="builds", max_retries=0, time_limit=ACTOR_TIME_LIMIT_MS, notify_shutdown=True)
def run_build(rt: Runtime, task_id: str) -> None:
    """Run one build; a redelivered or cancelled task is left as it is."""
    task = Task.get_or_none(Task.id == task_id)
    if task is None:
        return
    with db.atomic():  # the claim and its event commit together
        if not Task.claim(task_id, worker_id()):
            return
        started = emit("build.started", {"task_id": task_id, "project_name": task.project_name, "ref": task.ref},
                       owner_id=task.created_by_id)
    publish(rt.broker, started)
    cache_views.task_changed(rt.redis, task)
    project = Project.get_or_none(Project.name == task.project_name)
    reporter = Reporter(rt.redis, task_id)
    if project is None:
        run = Run(status="failed", error=f"project {task.project_name!r} no longer exists")
    else:
        try:
            user, root = sandbox.current(rt.settings)
            with TaskHeartbeat(task_id, interval=rt.settings.task_stale_seconds / 6):
                run = execute(rt.settings, task, project, reporter, root, user)
        except Shutdown:  # the worker is stopping: its step processes were killed on the way out
            run = Run(status="failed", error="the worker shut down while the build ran")
        except Exception as exc:  # the task must end in a final state whatever went wrong
            run = Run(status="failed", error=f"internal error: {type(exc).__name__}: {exc}")
    settle(rt, "build", task, reporter, run.status, run.results(), run.error)
