"""Analyses end to end: a repository with known problems, the API, a real worker, the real analysers."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.embedded_redis import _pid_alive
from core.settings import load_settings
from domain.builds.sandbox import step_user, workspace_root
from models.db import db
from models.event import Event
from tests.conftest import git
from tests.support.processes import wait_for

pytestmark = pytest.mark.slow

APP = '''import subprocess


def run(cmd: str) -> None:
    subprocess.run(cmd, shell=True)


def calc(expr: str) -> int:
    return eval(expr)


count: int = "three"
'''


def commit_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch", "main")
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", ".")
    git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "init")
    return path


def analyse(client: FlaskClient, headers: dict[str, str], repo: Path, **body: Any) -> dict[str, Any]:
    assert client.post("/api/v1/projects", headers=headers, json={
        "name": "subject", "repo_url": str(repo), "build_steps": [{"name": "noop", "run": "true"}]}).status_code == 201
    response = client.post("/api/v1/analyses", headers=headers, json={"project_name": "subject", **body})
    assert response.status_code == 202, response.get_json()
    analysis_id = response.get_json()["analysis_id"]

    def final() -> dict[str, Any] | None:
        found = client.get(f"/api/v1/analyses/{analysis_id}", headers=headers).get_json()
        return found if found["status"] in ("completed", "failed", "cancelled") else None

    return wait_for(final, timeout=120, interval=0.3, what="the analysis")  # type: ignore[no-any-return]


def test_analysis_finds_the_eval_the_shell_and_the_type_error(
        client: FlaskClient, auth: Any, worker: Any, tmp_path: Path) -> None:
    user = auth("user")
    repo = commit_repo(tmp_path / "subject", {"app.py": APP})
    result = analyse(client, user, repo)

    assert result["status"] == "completed", result
    assert result["performed_by"] == "user-user" and result["progress"] == 100
    found = {(i["file"], i["line"], i["severity"]) for i in result["security_issues"]}
    assert ("app.py", 5, "HIGH") in found  # shell=True
    assert ("app.py", 9, "MEDIUM") in found  # eval
    assert all(i["recommendation"] for i in result["security_issues"])
    assert result["type_errors"] >= 1 and result["code_smells"] >= 0
    assert 0 <= result["quality_score"] < 10
    assert result["coverage_percent"] is None
    assert any("security" in r.lower() for r in result["recommendations"])
    with db.connection_context():
        assert Event.select().where(Event.type == "analysis.completed").count() == 1


def test_only_the_requested_types_run(client: FlaskClient, auth: Any, worker: Any, tmp_path: Path) -> None:
    user = auth("user")
    repo = commit_repo(tmp_path / "subject", {"app.py": APP})
    result = analyse(client, user, repo, analysis_types=["security"])
    assert result["status"] == "completed" and result["security_issues"]
    assert result["type_errors"] is None and result["code_smells"] is None


def test_a_project_without_python_is_unsupported_not_a_crash(
        client: FlaskClient, auth: Any, worker: Any, tmp_path: Path) -> None:
    user = auth("user")
    repo = commit_repo(tmp_path / "subject", {"main.go": "package main\n"})
    result = analyse(client, user, repo)
    assert result["status"] == "completed"
    assert result["quality_score"] is None
    assert any("Python" in r for r in result["recommendations"])


def test_bad_analysis_requests_are_refused(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    for body in ({"project_name": "subject", "analysis_types": ["style"]},
                 {"project_name": "subject", "analysis_types": []},
                 {"project_name": "Bad Name"}, {}):
        response = client.post("/api/v1/analyses", headers=user, json=body)
        assert response.status_code == 422, body
    assert client.post("/api/v1/analyses", headers=user, json={"project_name": "nope"}).status_code == 404
    assert client.post("/api/v1/analyses", headers=auth("viewer"), json={"project_name": "nope"}).status_code == 403


def _analyser_pids(root: Path) -> list[int]:
    """Our analysers (python -I -m mypy ...) running inside a workspace under `root`."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = str((proc / "cwd").resolve())
        except OSError:
            continue
        if b"mypy" in cmdline and cwd.startswith(str(root)):
            pids.append(int(proc.name))
    return pids


def test_cancelling_a_running_analysis_kills_the_analyser(
        client: FlaskClient, auth: Any, worker: Any, tmp_path: Path, base_env: dict[str, str]) -> None:
    user = auth("user")
    # Big enough that mypy needs several seconds (about 9 s on this kind of machine) to check it.
    body = "\n".join(f"def f{i}(x: int) -> int:\n    y = [x * k for k in range({i % 7 + 1})]\n    return sum(y)\n"
                     for i in range(12_000))
    repo = commit_repo(tmp_path / "subject", {"big.py": body})
    assert client.post("/api/v1/projects", headers=user, json={
        "name": "subject", "repo_url": str(repo), "build_steps": [{"name": "noop", "run": "true"}]}).status_code == 201
    analysis_id = client.post("/api/v1/analyses", headers=user,
                              json={"project_name": "subject", "analysis_types": ["types"]}).get_json()["analysis_id"]
    workspaces = workspace_root(load_settings(base_env, env_file=None), step_user(None))
    pids = wait_for(lambda: _analyser_pids(workspaces), timeout=30, interval=0.05, what="mypy to start")

    assert client.delete(f"/api/v1/analyses/{analysis_id}", headers=user).status_code == 200
    # Killed within the cancel poll (0.5 s) and a margin: far sooner than it would have finished.
    wait_for(lambda: not any(_pid_alive(pid) for pid in pids), timeout=3, what="mypy to be killed")
    result = client.get(f"/api/v1/analyses/{analysis_id}", headers=user).get_json()
    assert result["status"] == "cancelled"
