"""The analysis runner: check the project out and run the analysers asked for on it."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.middleware import Shutdown

from models.project import Project
from models.task import Task
from workers import cache_views, runtime, sandbox
from workers.analysis.analyser import analyse
from workers.analysis.tools import AnalysisError, Cancelled
from workers.builds import SAFE_PATH, worker_id
from workers.checkout import CheckoutError, checkout, source_policy
from workers.heartbeat import TaskHeartbeat
from workers.reporter import Reporter
from workers.settle import settle

ANALYSIS_TIMEOUT = 900


def _analyse(task: Task, project: Project, reporter: Reporter, root: Path) -> tuple[str, Any, str | None]:
    root.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=f"analysis-{str(task.id)[:8]}-", dir=root))
    try:
        reporter.step = "checkout"
        reporter.progress(0, current_step="checkout")
        commit = checkout(project.repo_url, task.ref or project.default_branch, workspace / "src", workspace,
                          source_policy(runtime.current().settings))

        def progress(done: int, total: int, label: str) -> None:
            reporter.step = label
            reporter.progress(int(100 * done / total) if done < total else 99, current_step=label,
                              step=done, total_steps=total)
            reporter.log([f"{label}: done ({done}/{total})"])

        results = analyse(workspace / "src", list(task.analysis_types),
                          env={"PATH": SAFE_PATH, "HOME": str(workspace), "LANG": "C.UTF-8"},
                          timeout=ANALYSIS_TIMEOUT, progress=progress, should_cancel=reporter.cancelled)
        results["commit"] = commit
        return "completed", results, None
    except Cancelled:
        return "cancelled", None, None
    except CheckoutError as exc:
        return "failed", None, f"checkout failed: {exc}"
    except AnalysisError as exc:
        return "failed", None, str(exc)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


@dramatiq.actor(queue_name="analyses", max_retries=0, time_limit=(ANALYSIS_TIMEOUT + 600) * 1000,
                notify_shutdown=True)
def run_analysis(task_id: str) -> None:
    """Run one analysis; a redelivered or cancelled task is left as it is."""
    rt = runtime.current()
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
                status, results, error = _analyse(task, project, reporter, sandbox.current(rt.settings)[1])
        except Shutdown:  # the worker is stopping: the running analyser was killed on the way out
            status, results, error = "failed", None, "the worker shut down while the analysis ran"
        except Exception as exc:  # the task must end in a final state whatever went wrong
            status, results, error = "failed", None, f"internal error: {type(exc).__name__}: {exc}"
    settle("analysis", task, reporter, status, results, error)
