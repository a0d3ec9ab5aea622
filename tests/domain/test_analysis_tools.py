"""The analysis package against real ruff, radon, bandit and mypy on small projects built in tmp dirs."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from domain.analysis.analyser import analyse
from domain.analysis.coverage import coverage_percent
from domain.analysis.tools import ToolTimeout, run_tool

ALL_TYPES = ["quality", "security", "types"]
DIRTY_APP = '''\
import os
import subprocess


def run(cmd: str) -> None:
    subprocess.run(cmd, shell=True)


def calc(expr: str) -> int:
    return eval(expr)


x: int = "a"
'''
CLEAN_APP = '''\
"""A tidy module."""
from __future__ import annotations


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b
'''
COVERAGE_XML = '''<?xml version="1.0" ?>
<coverage version="7.6.1" timestamp="1700000000000" lines-valid="4" lines-covered="3" line-rate="0.75"
  branches-covered="0" branches-valid="0" branch-rate="0" complexity="0">
  <sources><source>.</source></sources>
  <packages/>
</coverage>
'''
# Project config that would hide the findings if the tools read it.
HIDING_CONFIG = {
    ".bandit": "[bandit]\nskips = B307,B602,B604\n",
    "pyproject.toml": '[tool.ruff.lint]\nignore = ["F401"]\n',
    "setup.cfg": "[mypy]\nignore_errors = True\n\n[radon]\noutput_file = radon-out.json\n",
}


def tool_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home)}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Given a project with eval, shell=True, a type error, hiding config, a venv and a 75% coverage.xml."""
    root = write(tmp_path_factory.mktemp("dirty"), {
        "app.py": DIRTY_APP, "coverage.xml": COVERAGE_XML, **HIDING_CONFIG,
        ".venv/lib/vendored.py": "eval(input())\n", "venv/other.py": "eval(input())\n",
    })
    before = snapshot(root)
    calls: list[tuple[int, int, str]] = []
    started = time.monotonic()
    result = analyse(root, ALL_TYPES, tool_env(tmp_path_factory.mktemp("home")),
                     progress=lambda done, total, label: calls.append((done, total, label)))
    return {"result": result, "calls": calls, "unchanged": snapshot(root) == before,
            "seconds": time.monotonic() - started}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = write(tmp_path_factory.mktemp("clean"), {"clean.py": CLEAN_APP})
    return analyse(root, ALL_TYPES, tool_env(tmp_path_factory.mktemp("home")))


def issue(result: dict[str, Any], test_id: str) -> dict[str, Any]:
    matches = [i for i in result["security_issues"] if i["issue"].startswith(f"{test_id}:")]
    assert len(matches) == 1, result["security_issues"]
    return matches[0]


def test_bandit_reports_eval_with_file_line_and_severity(dirty: dict[str, Any]) -> None:
    found = issue(dirty["result"], "B307")
    assert (found["file"], found["line"], found["severity"]) == ("app.py", 10, "MEDIUM")
    assert "ast.literal_eval" in found["recommendation"]
    assert set(found) == {"issue", "severity", "file", "line", "recommendation"}


def test_bandit_reports_shell_true_with_file_line_and_severity(dirty: dict[str, Any]) -> None:
    found = issue(dirty["result"], "B602")
    assert (found["file"], found["line"], found["severity"]) == ("app.py", 6, "HIGH")
    assert "shell=False" in found["recommendation"]


def test_security_issues_are_sorted_most_severe_first(dirty: dict[str, Any]) -> None:
    severities = [i["severity"] for i in dirty["result"]["security_issues"]]
    assert severities == sorted(severities, key=["HIGH", "MEDIUM", "LOW"].index)


def test_hidden_dirs_and_virtualenvs_are_not_analysed(dirty: dict[str, Any]) -> None:
    assert {i["file"] for i in dirty["result"]["security_issues"]} == {"app.py"}
    assert dirty["result"]["details"]["python_files"] == 1


def test_project_config_cannot_switch_findings_off(dirty: dict[str, Any]) -> None:
    # .bandit skips B307/B602, pyproject ignores F401, setup.cfg sets mypy ignore_errors: all ignored.
    assert "F401" in dirty["result"]["details"]["ruff"]["by_code"]
    assert dirty["result"]["type_errors"] >= 1


def test_quality_counts_code_smells(dirty: dict[str, Any]) -> None:
    assert dirty["result"]["code_smells"] >= 1
    assert {"code": "F401", "message": "`os` imported but unused", "file": "app.py", "line": 1} in \
        dirty["result"]["details"]["ruff"]["findings"]


def test_types_counts_mypy_errors(dirty: dict[str, Any]) -> None:
    assert dirty["result"]["type_errors"] >= 1
    first = dirty["result"]["details"]["mypy"]["findings"][0]
    assert (first["file"], first["line"], first["code"]) == ("app.py", 13, "assignment")


def test_coverage_is_read_from_cobertura_line_rate(dirty: dict[str, Any]) -> None:
    assert dirty["result"]["coverage_percent"] == 75.0


def test_score_is_in_range_and_below_a_clean_project(dirty: dict[str, Any], clean: dict[str, Any]) -> None:
    assert 0 <= dirty["result"]["quality_score"] <= 10
    assert 0 <= clean["quality_score"] <= 10
    assert dirty["result"]["quality_score"] < clean["quality_score"]
    assert dirty["result"]["details"]["score"]["penalties"]["security"] == 1.5 + 0.5 + 0.1  # HIGH, MEDIUM, LOW


def test_clean_project_has_no_findings(clean: dict[str, Any]) -> None:
    assert (clean["security_issues"], clean["code_smells"], clean["type_errors"]) == ([], 0, 0)
    assert clean["quality_score"] == 10.0
    assert clean["recommendations"] == [
        "Publish a Cobertura coverage.xml at the project root (pytest --cov --cov-report=xml) "
        "so coverage can be tracked"]


def test_recommendations_lead_with_security(dirty: dict[str, Any]) -> None:
    advice = dirty["result"]["recommendations"]
    assert advice[0] == "Fix 1 high-severity security issue, starting with subprocess with shell=True in app.py:6"
    assert advice[1] == "Fix 1 medium-severity security issue, starting with eval in app.py:10"
    assert any("type error" in line for line in advice)
    assert advice[-1] == "Raise test coverage from 75.0% to at least 80%"


def test_progress_is_reported_after_each_tool(dirty: dict[str, Any]) -> None:
    assert dirty["calls"] == [(1, 4, "ruff"), (2, 4, "radon"), (3, 4, "bandit"), (4, 4, "mypy")]


def test_analysis_leaves_the_project_untouched(dirty: dict[str, Any]) -> None:
    assert dirty["unchanged"]  # no .mypy_cache, .ruff_cache or radon output file


def test_only_requested_types_run(tmp_path: Path) -> None:
    root = write(tmp_path / "project", {"app.py": DIRTY_APP})
    result = analyse(root, ["security"], tool_env(tmp_path))
    assert (result["code_smells"], result["type_errors"]) == (None, None)
    assert {"ruff", "radon", "mypy"}.isdisjoint(result["details"])
    assert len(result["security_issues"]) == 3
    assert result["details"]["score"]["base"] == 10.0


def test_non_python_directory_is_unsupported(tmp_path: Path) -> None:
    root = write(tmp_path / "project", {"README.md": "# docs\n", "build.sh": "echo hi\n"})
    result = analyse(root, ALL_TYPES, tool_env(tmp_path))
    assert result["supported"] is False
    assert result["quality_score"] is None
    assert (result["security_issues"], result["code_smells"], result["type_errors"]) == ([], 0, 0)
    assert "No Python files" in result["recommendations"][0]


@pytest.mark.parametrize("types", [["quality", "style"], []])
def test_unknown_or_missing_types_are_rejected(tmp_path: Path, types: list[str]) -> None:
    with pytest.raises(ValueError, match="analysis types"):
        analyse(tmp_path, types, tool_env(tmp_path))


def test_unparseable_files_and_duplicate_module_names_do_not_break_the_analysis(tmp_path: Path) -> None:
    root = write(tmp_path / "project", {
        "legacy.py": 'print "python 2"\n', "a/conftest.py": "x: int = 1\n", "b/conftest.py": "y: int = 1\n",
    })
    result = analyse(root, ["quality", "types"], tool_env(tmp_path))
    mypy = result["details"]["mypy"]
    assert (mypy["blocked"], mypy["explicit_package_bases"]) == (True, True)
    first = mypy["findings"][0]
    assert (result["type_errors"], first["file"], first["code"]) == (1, "legacy.py", "syntax")
    assert any("syntax errors in 1 file (first: legacy.py)" in line for line in result["recommendations"])


def test_an_exhausted_time_budget_stops_the_analysis(tmp_path: Path) -> None:
    root = write(tmp_path / "project", {"app.py": CLEAN_APP})
    with pytest.raises(ToolTimeout, match="no time left"):
        analyse(root, ["security"], tool_env(tmp_path), timeout=0)


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads process state from /proc")
def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(ToolTimeout, match="killed"):
        run_tool([sys.executable, "-c", script], tmp_path, 2.0, tool_env(tmp_path))
    grandchild = Path(f"/proc/{pid_file.read_text()}/stat")
    deadline = time.monotonic() + 5
    while grandchild.exists() and grandchild.read_text().split(") ")[-1][0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not grandchild.exists() or grandchild.read_text().split(") ")[-1][0] == "Z"


@pytest.mark.parametrize(("text", "expected"), [
    ('<coverage line-rate="0.8333"/>', 83.3),
    ('<coverage line-rate="1.5"/>', None),
    ('<coverage line-rate="nan"/>', None),
    ('<report line-rate="0.5"/>', None),
    ("<coverage", None),
    ('<!DOCTYPE c [<!ENTITY a "0.5">]><coverage line-rate="&a;"/>', None),
])
def test_coverage_report_parsing_is_strict(tmp_path: Path, text: str, expected: float | None) -> None:
    (tmp_path / "coverage.xml").write_text(text)
    assert coverage_percent(tmp_path) == expected


def test_analysis_is_quick(dirty: dict[str, Any]) -> None:
    assert dirty["seconds"] < 30
