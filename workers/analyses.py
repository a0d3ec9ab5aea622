"""`run_analysis`: one analysis, from its claim to its settled end (the work itself is `domain.analysis.runner`)."""
from __future__ import annotations

from typing import Any

from dramatiq.middleware import Shutdown

from core.runtime import Runtime
from domain import cache_views
from domain.analysis.runner import ANALYSIS_TIMEOUT, run
from domain.builds import sandbox
from domain.builds.runner import worker_id
from domain.tasks.heartbeat import TaskHeartbeat
from domain.tasks.reporter import Reporter
from domain.tasks.settle import settle
from models.project import Project
from models.task import Task
from workers.registry import actor


@actor(queue_name="analyses", max_retries=0, time_limit=(ANALYSIS_TIMEOUT + 600) * 1000, notify_shutdown=True)
def run_analysis(rt: Runtime, task_id: str) -> None:
    """Run one analysis; a redelivered or cancelled task is left as it is."""
    task = Task.get_or_none(Task.id == task_id)
    if task is None or not Task.claim(task_id, worker_id()):
        return
    cache_views.task_changed(rt.redis, task)
    reporter = Reporter(rt.redis, task_id)
    project = Project.get_or_none(Project.name == task.project_name)
    status: str
    results: Any
    error: str | None
    if project is None:
        status, results, error = "failed", None, f"project {task.project_name!r} no longer exists"
    else:
        try:
            with TaskHeartbeat(task_id, interval=rt.settings.task_stale_seconds / 6):
                status, results, error = run(rt.settings, task, project, reporter,
                                                  sandbox.current(rt.settings)[1])
        except Shutdown:  # the worker is stopping: the running analyser was killed on the way out
            status, results, error = "failed", None, "the worker shut down while the analysis ran"
        except Exception as exc:  # the task must end in a final state whatever went wrong
            status, results, error = "failed", None, f"internal error: {type(exc).__name__}: {exc}"
    settle(rt, "analysis", task, reporter, status, results, error)
