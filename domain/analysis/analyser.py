"""`analyse`: run the requested analyses on a checked-out project and return an analysis's result fields.

Result shape::

    {quality_score: float 0..10 | None, security_issues: [{issue, severity, file, line, recommendation}] | None,
     code_smells: int | None, type_errors: int | None, coverage_percent: float | None,
     recommendations: [str], details: {...per tool...}, supported: bool}

None means "not run": `code_smells` needs "quality", `security_issues` "security", `type_errors` "types".
A project without Python files is `supported: False`: no tool runs, the requested counts are 0 (empty
list for security), quality_score is None (there is nothing to score), and `recommendations` and
`details.reason` say why.
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain.analysis import quality, security, typecheck
from domain.analysis.coverage import coverage_percent
from domain.analysis.files import ProjectFiles, scan
from domain.analysis.scoring import Findings, recommendations, score
from domain.analysis.tools import ToolContext

ANALYSIS_TYPES = ("quality", "security", "types")
# Tool runs per analysis type, so progress can be reported against a known total.
_STEPS = {"quality": ("ruff", "radon"), "security": ("bandit",), "types": ("mypy",)}
UNSUPPORTED = "No Python files found: Conveyor analyses Python projects only"

Progress = Callable[[int, int, str], None]


def analyse(path: Path, types: list[str], env: dict[str, str], timeout: float = 300,
            progress: Progress | None = None, should_cancel: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Analyse the project at `path`; `timeout` bounds all tool runs together, `progress(done, total, label)`
    is called after each tool. Raises ValueError for unknown types, AnalysisError when a tool fails."""
    requested = _validate(types)
    if not path.is_dir():
        raise ValueError(f"not a directory: {path}")
    files = scan(path)
    if not files.lines:
        return _unsupported(requested)
    steps = [step for kind in requested for step in _STEPS[kind]]

    def report(label: str) -> None:
        if progress is not None:
            progress(steps.index(label) + 1, len(steps), label)

    findings = Findings(lines=files.total_lines, coverage=coverage_percent(path))
    details: dict[str, Any] = {"types": requested, "python_files": len(files.lines), "lines": files.total_lines}
    with tempfile.TemporaryDirectory(prefix="conveyor-analysis-") as scratch:
        # Tools' own caches (bandit's plugin loader writes one) go to scratch unless the caller chose a place.
        tool_env = {"XDG_CACHE_HOME": str(Path(scratch, "cache")), **env}
        ctx = ToolContext(root=path, env=tool_env, scratch=Path(scratch), deadline=time.monotonic() + timeout,
                          should_cancel=should_cancel)
        _run_tools(ctx, requested, files, findings, details, report)
    value, details["score"] = score(findings)
    details["coverage"] = {"report": "coverage.xml", "percent": findings.coverage}
    return {
        "quality_score": value,
        "security_issues": None if findings.security is None else [security.public(f) for f in findings.security],
        "code_smells": None if findings.quality is None else len(findings.quality.smells),
        "type_errors": None if findings.types is None else len(findings.types.errors),
        "coverage_percent": findings.coverage,
        "recommendations": recommendations(findings),
        "details": details,
        "supported": True,
    }


def _run_tools(ctx: ToolContext, requested: list[str], files: ProjectFiles, findings: Findings,
               details: dict[str, Any], report: Callable[[str], None]) -> None:
    """Run each requested tool in turn, filling `findings` and `details`."""
    if "quality" in requested:
        smells = quality.run_ruff(ctx)
        report("ruff")
        findings.quality = quality.run_radon(ctx, files)
        findings.quality.smells = smells
        report("radon")
        details.update(findings.quality.details())
    if "security" in requested:
        findings.security, errors = security.run_bandit(ctx)
        report("bandit")
        details["bandit"] = security.details(findings.security, errors)
    if "types" in requested:
        findings.types = typecheck.run_mypy(ctx)
        report("mypy")
        details["mypy"] = findings.types.details()


def _validate(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(ANALYSIS_TYPES))
    if unknown or not types:
        raise ValueError(f"analysis types must be a non-empty subset of {list(ANALYSIS_TYPES)}, got {types!r}")
    # The order of ANALYSIS_TYPES, so the same request always runs and reports the same way.
    return [kind for kind in ANALYSIS_TYPES if kind in types]


def _unsupported(requested: list[str]) -> dict[str, Any]:
    return {
        "quality_score": None,
        "security_issues": [] if "security" in requested else None,
        "code_smells": 0 if "quality" in requested else None,
        "type_errors": 0 if "types" in requested else None,
        "coverage_percent": None,
        "recommendations": [UNSUPPORTED],
        "details": {"types": requested, "reason": UNSUPPORTED, "python_files": 0, "lines": 0},
        "supported": False,
    }
