"""The analysis runner: check the project out and run the analysers asked for on it (the actor is
`workers.analyses.run_analysis`)."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core.settings import Settings
from domain.analysis.analyser import Progress, analyse
from domain.analysis.tools import AnalysisError, Cancelled
from domain.builds.checkout import CheckoutError, checkout, source_policy
from domain.builds.runner import SAFE_PATH
from domain.tasks.reporter import Reporter
from models.project import Project
from models.task import Task

ANALYSIS_TIMEOUT = 900


def analyse_source(settings: Settings, repo_url: str, ref: str | None, workspace: Path, types: list[str],
                   progress: Progress | None = None, should_cancel: Callable[[], bool] | None = None,
                   git_env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Clone `ref` of `repo_url` (None: its default branch) into `workspace`/src and analyse it: `analyse`'s
    result with the `commit` analysed. Raises CheckoutError or AnalysisError."""
    commit = checkout(repo_url, ref, workspace / "src", workspace, source_policy(settings), extra_env=git_env)
    results = analyse(workspace / "src", types, env={"PATH": SAFE_PATH, "HOME": str(workspace), "LANG": "C.UTF-8"},
                      timeout=ANALYSIS_TIMEOUT, progress=progress, should_cancel=should_cancel)
    results["commit"] = commit
    return results


def run(settings: Settings, task: Task, project: Project, reporter: Reporter,
        root: Path) -> tuple[str, Any, str | None]:
    """Check out and analyse in a fresh workspace under `root`: (status, results, error)."""
    root.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=f"analysis-{str(task.id)[:8]}-", dir=root))
    try:
        reporter.step = "checkout"
        reporter.progress(0, current_step="checkout")

        def progress(done: int, total: int, label: str) -> None:
            reporter.step = label
            reporter.progress(int(100 * done / total) if done < total else 99, current_step=label,
                              step=done, total_steps=total)
            reporter.log([f"{label}: done ({done}/{total})"])

        results = analyse_source(settings, project.repo_url, task.ref or project.default_branch, workspace,
                                 list(task.analysis_types), progress=progress, should_cancel=reporter.cancelled)
        return "completed", results, None
    except Cancelled:
        return "cancelled", None, None
    except CheckoutError as exc:
        return "failed", None, f"checkout failed: {exc}"
    except AnalysisError as exc:
        return "failed", None, str(exc)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
