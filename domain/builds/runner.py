"""The build runner: check the project out, run its steps with `bash -c`, report, clean up (the actor is
`workers.builds.run_build`)."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.settings import Settings
from domain.builds import sandbox
from domain.builds.checkout import CheckoutError, checkout, source_policy
from domain.builds.process import Limits, run_streaming
from domain.tasks.reporter import Reporter
from models.project import Project
from models.task import Task

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class Run:
    status: str = "completed"
    error: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    commit: str | None = None
    started: float = field(default_factory=time.monotonic)

    def results(self) -> dict[str, Any]:
        return {"steps": self.steps, "duration_seconds": round(time.monotonic() - self.started, 3),
                "commit": self.commit}


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def step_env(task: Task, project: Project, workspace: Path, commit: str) -> dict[str, str]:
    """Only what the step needs: nothing from the worker's own environment reaches it."""
    env = {"PATH": SAFE_PATH, "HOME": str(workspace), "LANG": "C.UTF-8", "CI": "true",
           "CONVEYOR_TASK_ID": str(task.id), "CONVEYOR_PROJECT": project.name,
           "CONVEYOR_REF": task.ref or "", "CONVEYOR_COMMIT": commit}
    env.update({k: str(v) for k, v in project.env.items()})
    env.update({k: str(v) for k, v in task.parameters.items()})
    return env


def _steps(task: Task, project: Project, workspace: Path, reporter: Reporter, run: Run, limit: float,
           user: sandbox.StepUser | None) -> None:
    deadline = run.started + limit
    total = len(project.build_steps)
    for index, step in enumerate(project.build_steps):
        reporter.step = step["name"]
        reporter.progress(int(100 * index / total), current_step=step["name"], step=index + 1, total_steps=total)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            run.status, run.error = "failed", f"build exceeded its overall limit of {limit:.0f}s"
            return
        timeout = min(float(step.get("timeout_seconds", 600)), remaining)
        outcome = run_streaming(
            Limits(cpu_seconds=int(timeout) + 5).wrap(["bash", "-c", step["run"]]),
            cwd=workspace / "src", env=step_env(task, project, workspace, run.commit or ""), timeout=timeout,
            on_lines=reporter.log, should_cancel=reporter.cancelled, identity=user.popen_kwargs() if user else None)
        run.steps.append({"name": step["name"], "exit_code": outcome.exit_code,
                          "duration_seconds": round(outcome.duration, 3)})
        if outcome.cancelled:
            run.status = "cancelled"
            return
        if outcome.timed_out:
            run.status, run.error = "failed", f"step '{step['name']}' timed out after {timeout:.0f}s"
            return
        if outcome.exit_code != 0:
            run.status, run.error = "failed", f"step '{step['name']}' exited with code {outcome.exit_code}"
            return


def execute(settings: Settings, task: Task, project: Project, reporter: Reporter, root: Path,
            user: sandbox.StepUser | None = None) -> Run:
    """Check out and run the steps in a fresh workspace under `root`, as `user` (None: the worker's own)."""
    run = Run()
    root.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=f"build-{str(task.id)[:8]}-", dir=root))
    try:
        reporter.step = "checkout"
        reporter.progress(0, current_step="checkout", step=0, total_steps=len(project.build_steps))
        run.commit = checkout(project.repo_url, task.ref or project.default_branch, workspace / "src", workspace,
                              source_policy(settings))
        sandbox.hand_over(workspace, user)
        _steps(task, project, workspace, reporter, run, settings.build_max_seconds, user)
    except CheckoutError as exc:
        run.status, run.error = "failed", f"checkout failed: {exc}"
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return run
