"""From an analysis's findings to the code-quality figures: which rule class each finding belongs to, which
figure that class counts in, and what fixing one costs (the remediation table, docs/engineering-analytics.md).

Like SonarQube's technical debt, the debt is a constant number of minutes per finding of a class, summed; the
constants are Conveyor's, chosen in SonarQube's orders of magnitude (a few minutes for a code smell, tens for a
bug, half an hour and more for a vulnerability), and documented with their reasons."""
from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple


class RuleClass(NamedTuple):
    figure: str  # the figure a finding of this class counts in
    minutes: int  # remediation minutes for one finding


REMEDIATION: dict[str, RuleClass] = {
    "ruff_bug": RuleClass("bugs", 10),  # pyflakes errors, syntax errors, pylint errors, bugbear
    "ruff_smell": RuleClass("code_smells", 5),  # the other ruff rules Conveyor runs, unused imports and names
    "complex_function": RuleClass("code_smells", 30),  # radon grade D-F: cyclomatic complexity above 20
    "type_error": RuleClass("type_errors", 10),  # a mypy error
    "security_low": RuleClass("security_issues", 10),  # bandit, LOW severity
    "security_medium": RuleClass("security_issues", 30),
    "security_high": RuleClass("security_issues", 60),  # and a vulnerability
}
FIGURES = ("code_smells", "bugs", "security_issues", "vulnerabilities", "type_errors")
# Ruff codes that are likely bugs: pyflakes (F), syntax and statement errors (E9, and ruff's "syntax"), pylint's
# errors (PLE) and bugbear (B). Unused imports and variables are pyflakes' too but break nothing: smells.
BUG_PREFIXES = ("F", "E9", "PLE", "B", "syntax")
SMELL_CODES = frozenset({"F401", "F841"})


def ruff_class(code: str) -> str:
    """ruff_bug or ruff_smell for a ruff rule code."""
    return "ruff_bug" if code.startswith(BUG_PREFIXES) and code not in SMELL_CODES else "ruff_smell"


def rule_classes(details: dict[str, Any]) -> Counter[str]:
    """How many findings of each rule class an analysis's `details` hold (the counts there are complete: the
    finding lists are cut at 50, their counts are not)."""
    counts: Counter[str] = Counter()
    for code, n in (details.get("ruff") or {}).get("by_code", {}).items():
        counts[ruff_class(code)] += n
    counts["complex_function"] += (details.get("radon") or {}).get("complex_count", 0)
    counts["type_error"] += (details.get("mypy") or {}).get("count", 0)
    for severity, n in (details.get("bandit") or {}).get("by_severity", {}).items():
        counts[f"security_{severity.lower()}"] += n
    return +counts  # classes with no findings left out


def figures(by_class: Counter[str]) -> dict[str, int]:
    """The snapshot's counts and its technical debt in minutes, from the findings per rule class."""
    counts = dict.fromkeys(FIGURES, 0)
    for name, n in by_class.items():
        counts[REMEDIATION[name].figure] += n
    counts["vulnerabilities"] = by_class["security_high"]
    minutes = sum(REMEDIATION[name].minutes * n for name, n in by_class.items())
    return {**counts, "technical_debt_minutes": minutes}
