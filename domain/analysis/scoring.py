"""The quality score and the recommendations, computed from the findings of the analyses that ran.

Score, 0..10, rounded to one decimal::

    kloc     = max(lines of Python, 1000) / 1000      # small projects are not judged on density
    base     = min(10, average maintainability index / 5)   # radon MI, weighted by file length
    score    = base - smells - complexity - security - types, clamped to 0..10

    smells     = min(3.0, 0.1 * ruff findings / kloc)
    complexity = min(1.5, 0.25 * functions at radon grade D or worse)
    security   = min(5.0, 1.5 * HIGH + 0.5 * MEDIUM + min(1.0, 0.1 * LOW))   # absolute: one eval is one hole
    types      = min(2.0, 0.2 * mypy errors / kloc)

Radon's MI runs 0..100 but real modules seldom exceed 60-70, so MI 50 or better earns the full base and
MI 20, the bottom of radon's grade A, earns 4.

A type that did not run contributes nothing: without "quality" the base is 10 and there is no smell or
complexity penalty, without "security" or "types" their penalty is 0. A partial score therefore only says
how the project fares on what was checked, and is not comparable with a full one; `details.score` names
the components. Coverage is reported but never scored: a missing report says nothing about the code.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from domain.analysis.quality import QualityResult
from domain.analysis.security import SEVERITIES
from domain.analysis.typecheck import TypeResult

COVERAGE_TARGET = 80.0
_SECURITY_WEIGHT = {"HIGH": 1.5, "MEDIUM": 0.5}


@dataclass
class Findings:
    """Everything the analyses found; None for an analysis that did not run."""

    lines: int
    quality: QualityResult | None = None
    security: list[dict[str, Any]] | None = None
    types: TypeResult | None = None
    coverage: float | None = None


def score(findings: Findings) -> tuple[float, dict[str, Any]]:
    """The quality score and its components (see the module docstring)."""
    kloc = max(findings.lines, 1000) / 1000
    base, penalties = 10.0, {}
    if findings.quality is not None:
        if findings.quality.average_mi is not None:
            base = min(10.0, findings.quality.average_mi / 5)
        penalties["smells"] = min(3.0, 0.1 * len(findings.quality.smells) / kloc)
        penalties["complexity"] = min(1.5, 0.25 * len(findings.quality.complex_blocks))
    if findings.security is not None:
        counts = Counter(f["severity"] for f in findings.security)
        weighted = sum(_SECURITY_WEIGHT.get(s, 0.0) * n for s, n in counts.items())
        penalties["security"] = min(5.0, weighted + min(1.0, 0.1 * counts["LOW"]))
    if findings.types is not None:
        penalties["types"] = min(2.0, 0.2 * len(findings.types.errors) / kloc)
    value = min(10.0, max(0.0, base - sum(penalties.values())))
    rounded = {name: round(p, 2) for name, p in penalties.items()}
    return round(value, 1), {"base": round(base, 2), "kloc": kloc, "penalties": rounded}


def recommendations(findings: Findings) -> list[str]:
    """Advice in a fixed order: security, types, complexity, maintainability, smells, parsing, coverage."""
    advice: list[str] = []
    if findings.security is not None:
        advice += _security(findings.security)
    if findings.types is not None:
        advice += _types(findings.types)
    if findings.quality is not None:
        advice += _quality(findings.quality)
    if findings.coverage is None:
        advice.append("Publish a Cobertura coverage.xml at the project root (pytest --cov --cov-report=xml) "
                      "so coverage can be tracked")
    elif findings.coverage < COVERAGE_TARGET:
        advice.append(f"Raise test coverage from {findings.coverage}% to at least {COVERAGE_TARGET:.0f}%")
    return advice


def _security(issues: list[dict[str, Any]]) -> list[str]:
    advice = []
    for severity in SEVERITIES:
        of_severity = [i for i in issues if i["severity"] == severity]
        if of_severity:
            first = of_severity[0]
            verb = "Review" if severity == "LOW" else "Fix"
            advice.append(f"{verb} {_count(len(of_severity), f'{severity.lower()}-severity security issue')}, "
                          f"starting with {first['label']} in {first['file']}:{first['line']}")
    return advice


def _types(types: TypeResult) -> list[str]:
    if not types.errors:
        return []
    first = types.errors[0]
    if types.blocked:
        return [f"Fix the blocking mypy error in {first['file']}:{first['line']} ({first['message']}) "
                "so the rest of the project can be type-checked"]
    return [f"Fix {_count(len(types.errors), 'type error')} reported by mypy, "
            f"starting with {first['file']}:{first['line']} [{first['code']}]"]


def _quality(quality: QualityResult) -> list[str]:
    advice = [
        f"Reduce the complexity of {b['type']} {b['name']} in {b['file']}:{b['line']} "
        f"(radon grade {b['rank']}, complexity {b['complexity']})"
        for b in quality.complex_blocks[:3]
    ]
    if len(quality.complex_blocks) > 3:
        advice.append(f"Simplify {_count(len(quality.complex_blocks) - 3, 'more function')} at radon grade D or worse")
    advice += [
        f"Split or simplify {f['file']} (maintainability index {f['mi']}, radon grade {f['rank']})"
        for f in quality.low_mi_files[:3]
    ]
    if quality.smells:
        common = sorted(Counter(s["code"] for s in quality.smells).items(), key=lambda c: (-c[1], c[0]))
        listed = ", ".join(f"{code} x{n}" for code, n in common[:3])
        advice.append(f"Fix {_count(len(quality.smells), 'code smell')} reported by ruff (most common: {listed})")
    if quality.errors:
        first_file = quality.errors[0].split(": ", 1)[0]
        advice.append(f"Fix syntax errors in {_count(len(quality.errors), 'file')} (first: {first_file}); "
                      "analysers skip files they cannot parse")
    return advice


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
