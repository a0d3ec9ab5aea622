"""A repository's code-quality snapshot against real `git` and the real ruff, radon, bandit and mypy: its
default branch cloned from a repository built in a tmp dir, the findings classified and priced as the
remediation table says, a refused or failing clone stored as a failed snapshot without the token."""
from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

from core.runtime import Runtime
from domain.quality.snapshots import credentials, redacted, take
from models.db import db
from models.organization import Organization
from models.quality import QualitySnapshot
from models.repository import Repository
from tests.conftest import git
from tests.domain.engineering.conftest import HOOK_SECRET

_BRANCHES = "\n".join(f"    if x == {i}:\n        return {i * 10}" for i in range(21))
# Known findings, each with its rule class and remediation minutes (domain.quality.debt.REMEDIATION):
#   ruff F401 `import os` unused: ruff_smell 5; ruff F821 undefined name: ruff_bug 10;
#   ruff PLW1510 subprocess.run without check: ruff_smell 5; radon `branchy` complexity 22 (grade D):
#   complex_function 30; mypy name-defined and assignment: 2 x type_error 10; bandit B602 shell=True (HIGH):
#   security_high 60, a vulnerability; bandit B307 eval (MEDIUM): 30; bandit B404 subprocess import (LOW): 10.
# Total: 5 + 10 + 5 + 30 + 20 + 60 + 30 + 10 = 170 minutes.
APP = f'''import os
import subprocess


def run(cmd: str) -> None:
    subprocess.run(cmd, shell=True)


def calc(expr: str) -> int:
    return eval(expr)


def broken() -> int:
    return undefined_name


count: int = "three"


def branchy(x: int) -> int:
{_BRANCHES}
    return -1
'''
COVERAGE_XML = '<?xml version="1.0" ?>\n<coverage line-rate="0.625"></coverage>\n'


def commit(path: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", ".")
    git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", message)
    return git(path, "rev-parse", "HEAD")


def repository(org: Organization, url: str, token: str | None = None) -> Repository:
    with db.connection_context():
        return Repository.create(organization=org, name="widgets", url=url, full_name="acme/widgets",
                                 provider="github", api_url="https://api.github.com", hook_secret=HOOK_SECRET,
                                 token=token)


def test_a_snapshot_of_the_default_branch_counts_the_known_findings_and_their_debt(
        org: Organization, runtime: Runtime, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    git(source, "init", "--quiet", "--initial-branch", "trunk")
    head = commit(source, {"app.py": APP, "coverage.xml": COVERAGE_XML}, "app")
    git(source, "checkout", "--quiet", "-b", "feature")  # findings on another branch are not analysed
    commit(source, {"more.py": "def more(s: str) -> object:\n    return eval(s)\n"}, "more")
    git(source, "checkout", "--quiet", "trunk")
    repo = repository(org, str(source))
    with db.connection_context():
        snapshot = take(runtime.settings, repo, tmp_path / "workspaces")
        stored = QualitySnapshot.get_by_id(snapshot.id)
    assert (stored.status, stored.error, stored.branch, stored.commit_sha) == ("done", None, "trunk", head)
    assert stored.test_coverage == 62.5
    assert (stored.code_smells, stored.bugs, stored.type_errors) == (3, 1, 2)  # F401, PLW1510, branchy; F821
    assert (stored.security_issues, stored.vulnerabilities) == (3, 1)  # B602 HIGH, B307 MEDIUM, B404 LOW
    assert stored.technical_debt_minutes == 170
    assert stored.details["by_class"] == {"complex_function": 1, "ruff_bug": 1, "ruff_smell": 2, "type_error": 2,
                                          "security_high": 1, "security_medium": 1, "security_low": 1}
    assert list((tmp_path / "workspaces").iterdir()) == []  # the workspace is removed


def test_an_internal_address_is_refused_and_stored_as_a_failed_snapshot(
        org: Organization, runtime: Runtime, tmp_path: Path) -> None:
    repo = repository(org, "https://127.0.0.1/acme/widgets", token="ghp_secret-token-value")
    with db.connection_context():
        snapshot = take(runtime.settings, repo, tmp_path / "workspaces")
    assert snapshot.status == "failed" and snapshot.error.startswith("checkout failed: refused"), snapshot.error
    assert (snapshot.commit_sha, snapshot.code_smells, snapshot.test_coverage) == (None, 0, None)


def test_a_failing_clone_is_a_failed_snapshot(org: Organization, runtime: Runtime, tmp_path: Path) -> None:
    repo = repository(org, str(tmp_path / "no-such-repository"))
    with db.connection_context():
        snapshot = take(runtime.settings, repo, tmp_path / "workspaces")
    assert snapshot.status == "failed" and "git clone failed" in snapshot.error, snapshot.error


def test_the_token_goes_to_the_repositorys_https_host_only_and_never_into_an_error(tmp_path: Path) -> None:
    repo = Repository(url="https://github.com/acme/widgets", provider="github", token="ghp_secret-token-value")
    env = credentials(repo)
    header = env["GIT_CONFIG_VALUE_0"]
    assert base64.b64decode(header.removeprefix("Authorization: Basic ")) == b"x-access-token:ghp_secret-token-value"
    # git itself reads the header from the environment, for that host's URLs only
    seen = subprocess.run(["git", "config", "--get-urlmatch", "http.extraHeader", "https://github.com/acme/x"],
                          env={**env, "HOME": str(tmp_path)}, cwd=tmp_path, capture_output=True, text=True)
    other = subprocess.run(["git", "config", "--get-urlmatch", "http.extraHeader", "https://evil.example/x"],
                           env={**env, "HOME": str(tmp_path)}, cwd=tmp_path, capture_output=True, text=True)
    assert (seen.stdout.strip(), other.stdout.strip()) == (header, "")
    assert credentials(Repository(url="http://github.com/acme/widgets", provider="github", token="t0ken")) == {}
    assert credentials(Repository(url="https://github.com/acme/widgets", provider="github", token=None)) == {}
    assert redacted(f"fatal: {header} and ghp_secret-token-value", repo) == "fatal: [redacted] and [redacted]"


def test_a_project_without_python_is_a_done_snapshot_with_nothing_found(
        org: Organization, runtime: Runtime, tmp_path: Path) -> None:
    source = tmp_path / "docs-only"
    source.mkdir()
    git(source, "init", "--quiet", "--initial-branch", "main")
    commit(source, {"README.md": "# Docs\n"}, "docs")
    with db.connection_context():
        snapshot: Any = take(runtime.settings, repository(org, str(source)), tmp_path / "workspaces")
    assert (snapshot.status, snapshot.code_smells, snapshot.technical_debt_minutes) == ("done", 0, 0)
    assert snapshot.details["supported"] is False and snapshot.details["by_class"] == {}
