"""Types: mypy errors, with its cache and configuration kept out of the project."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from domain.analysis.files import EXCLUDED_DIRS, relative
from domain.analysis.tools import ToolContext, failed

DETAIL_LIMIT = 50
_EXCLUDE = "(^|/)(\\.[^/.][^/]*|{})(/|$)".format("|".join(EXCLUDED_DIRS))


@dataclass
class TypeResult:
    """mypy's errors, sorted by file and line; `blocked` when a blocking error (say a syntax error)
    stopped mypy, in which case only the blocking errors are known."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    blocked: bool = False
    explicit_package_bases: bool = False

    def details(self) -> dict[str, Any]:
        return {
            "count": len(self.errors), "blocked": self.blocked,
            "explicit_package_bases": self.explicit_package_bases, "findings": self.errors[:DETAIL_LIMIT],
        }


def run_mypy(ctx: ToolContext) -> TypeResult:
    """Type-check the project; retried with explicit package bases when two files map to one module."""
    result = _mypy(ctx, explicit_package_bases=False)
    if result.blocked and any("Duplicate module named" in e["message"] for e in result.errors):
        # Common in repositories with several `conftest.py` or scripts directories without
        # __init__.py; naming modules by their path from the root resolves it at some cost in precision.
        result = _mypy(ctx, explicit_package_bases=True)
    return result


def _mypy(ctx: ToolContext, explicit_package_bases: bool) -> TypeResult:
    # An explicit config stops mypy reading the project's own, whose `plugins` would run project code.
    config = ctx.scratch / "mypy.ini"
    config.write_text("[mypy]\n")
    args = [
        "--config-file", str(config), "--cache-dir", str(ctx.scratch / "mypy-cache"),
        "--ignore-missing-imports", "--no-error-summary", "--show-error-codes", "--no-pretty",
        "--output", "json", "--exclude", _EXCLUDE,
    ]
    if explicit_package_bases:
        args.append("--explicit-package-bases")
    result = ctx.run("mypy", *args, ".")
    parsed = (_error(ctx, line) for line in result.stdout.splitlines() if line.strip())
    kept = sorted((e for e in parsed if e is not None), key=lambda e: (e["file"], e["line"], e["code"]))
    if result.returncode not in (0, 1, 2) or (result.returncode == 2 and not kept):
        raise failed(result, "could not check the project")
    return TypeResult(kept, blocked=result.returncode == 2, explicit_package_bases=explicit_package_bases)


def _error(ctx: ToolContext, line: str) -> dict[str, Any] | None:
    try:
        item = json.loads(line)
    except ValueError:
        return None  # mypy prints a few plain-text lines (crash notes) even in json mode
    if not isinstance(item, dict) or item.get("severity") != "error":
        return None
    file = relative(ctx.root, item.get("file") or "")
    if file is None:
        return None
    return {"file": file, "line": max(item.get("line") or 0, 0), "code": item.get("code") or "error",
            "message": item.get("message", "")}
