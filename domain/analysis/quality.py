"""Code quality: ruff findings (code smells) and radon complexity and maintainability."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from domain.analysis.files import EXCLUDED_DIRS, ProjectFiles, relative
from domain.analysis.tools import ToolContext, failed

# Ruff's classic defaults (pyflakes, syntax and statement errors) plus likely bugs (bugbear, pylint
# errors/warnings) and needless complexity (simplify, comprehensions). Named explicitly so a ruff upgrade
# that changes its defaults does not silently change everyone's scores.
RUFF_RULES = "E4,E7,E9,F,B,SIM,C4,PLE,PLW"
# Functions at radon grade D or worse (cyclomatic complexity above 20) are worth a recommendation;
# classes are skipped because their methods are listed on their own.
COMPLEX_RANKS = ("D", "E", "F")
DETAIL_LIMIT = 50


@dataclass
class QualityResult:
    """What the quality analysis found."""

    smells: list[dict[str, Any]] = field(default_factory=list)
    average_mi: float | None = None
    complex_blocks: list[dict[str, Any]] = field(default_factory=list)
    low_mi_files: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        return {
            "ruff": {
                "rules": RUFF_RULES, "count": len(self.smells),
                "by_code": dict(sorted(Counter(s["code"] for s in self.smells).items())),
                "findings": self.smells[:DETAIL_LIMIT],
            },
            "radon": {
                "average_maintainability_index": self.average_mi,
                "complex_count": len(self.complex_blocks),
                "complex_blocks": self.complex_blocks[:DETAIL_LIMIT],
                "low_maintainability_files": self.low_mi_files[:DETAIL_LIMIT],
                "errors": self.errors[:DETAIL_LIMIT],
            },
        }


def run_ruff(ctx: ToolContext) -> list[dict[str, Any]]:
    """Ruff findings sorted by file and line. `--isolated` so the project's config cannot switch rules off."""
    result = ctx.run(
        "ruff", "check", "--output-format", "json", "--no-cache", "--isolated", "--exit-zero",
        "--select", RUFF_RULES, "--extend-exclude", ",".join((".*", *EXCLUDED_DIRS)), ".",
    )
    raw = _json(result.stdout)
    if result.returncode != 0 or not isinstance(raw, list):
        raise failed(result, "gave no findings")
    smells = []
    for item in raw:
        file = relative(ctx.root, item.get("filename") or "")
        if file is not None:
            line = (item.get("location") or {}).get("row") or 0
            smells.append({"code": item.get("code") or "syntax", "message": item.get("message", ""),
                           "file": file, "line": line})
    return sorted(smells, key=lambda s: (s["file"], s["line"], s["code"]))


def run_radon(ctx: ToolContext, files: ProjectFiles) -> QualityResult:
    """Radon complexity per block and maintainability index per file, averaged by line count."""
    result = QualityResult()
    for path, blocks in _radon(ctx, "cc").items():
        if isinstance(blocks, dict):
            result.errors.append(f"{path}: {blocks.get('error', 'unreadable')}")
            continue
        result.complex_blocks.extend(
            {"name": b["name"], "type": b["type"], "file": path, "line": b["lineno"],
             "complexity": b["complexity"], "rank": b["rank"]}
            for b in blocks if b.get("type") != "class" and b.get("rank") in COMPLEX_RANKS
        )
    result.complex_blocks.sort(key=lambda b: (-b["complexity"], b["file"], b["line"]))
    weighted, weights = 0.0, 0
    for path, entry in _radon(ctx, "mi").items():
        if "mi" not in entry:
            continue  # already recorded as an error by the cc pass
        weight = max(files.lines.get(path, 1), 1)
        weighted, weights = weighted + entry["mi"] * weight, weights + weight
        if entry.get("rank") != "A":
            result.low_mi_files.append({"file": path, "mi": round(entry["mi"], 1), "rank": entry["rank"]})
    result.low_mi_files.sort(key=lambda f: (f["mi"], f["file"]))
    result.average_mi = round(weighted / weights, 1) if weights else None
    return result


def _radon(ctx: ToolContext, command: str) -> dict[str, Any]:
    # Radon reads radon.cfg/setup.cfg/pyproject.toml from its cwd, and `output_file` there would make it
    # write wherever the project says; an empty scratch cwd and an absolute target avoid both.
    result = ctx.run("radon", command, "-j", "-i", ",".join(EXCLUDED_DIRS), str(ctx.root.absolute()),
                     cwd=ctx.scratch)
    raw = _json(result.stdout)
    if result.returncode != 0 or not isinstance(raw, dict):
        raise failed(result, "gave no report")
    by_file = {}
    for filename, entry in raw.items():
        path = relative(ctx.root, filename)
        if path is not None:
            by_file[path] = entry
    return dict(sorted(by_file.items()))


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
