"""What a build step can reach of its worker, piece by piece (workers/sandbox.py), with real processes run
as another user. The end-to-end check, a step reading /proc/$PPID, is in test_secrets.py."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import ConfigError, load_settings
from domain.builds import sandbox
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs processes as another user: needs root")
NOBODY = pwd.getpwnam("nobody")
AS_NOBODY = {"user": NOBODY.pw_uid, "group": NOBODY.pw_gid, "extra_groups": []}

# A process that becomes nobody (which makes it non-dumpable, so the control makes it dumpable again), may
# protect itself, then has a child of its own uid read its environment and memory.
PEEK = """
import os, subprocess, sys
from domain.builds.sandbox import PR_SET_DUMPABLE, _prctl, protect_process
os.setgroups([]); os.setgid(int(sys.argv[3])); os.setuid(int(sys.argv[2]))
if sys.argv[1] == "protect":
    assert protect_process()
else:
    _prctl(PR_SET_DUMPABLE, 1)
for path in ("environ", "mem"):
    r = subprocess.run(["sh", "-c", f"head -c 4096 /proc/$PPID/{path} >/dev/null"], capture_output=True, cwd="/")
    print(path, r.returncode, r.stderr.decode().strip().split(":")[-1].strip() or "read")
"""


@pytest.fixture
def shared() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="conveyor-sandbox-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(command: str, cwd: Path = Path("/")) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin"}, **AS_NOBODY)


def test_a_non_dumpable_process_hides_its_environ_and_memory_from_its_own_uid() -> None:
    def peek(mode: str) -> str:
        result = subprocess.run([sys.executable, "-c", PEEK, mode, str(NOBODY.pw_uid), str(NOBODY.pw_gid)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60,
                                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
        assert result.returncode == 0, result.stderr
        return result.stdout

    # The control: the same uid reads the environment and opens the memory (whose page 0 is unmapped: EIO).
    assert peek("plain") == "environ 0 read\nmem 1 Input/output error\n"
    assert peek("protect") == "environ 1 Permission denied\nmem 1 Permission denied\n"


def test_make_private_shuts_the_var_dir_to_other_users_and_keeps_workspaces_reachable(shared: Path) -> None:
    var = shared / "var"
    (var / "redis").mkdir(parents=True)
    (var / "redis" / "server.json").write_text("password")
    (var / "conveyor.db").write_text("rows")
    workspaces = var / "workspaces"
    for path in (var, var / "redis", workspaces):
        path.mkdir(exist_ok=True)
        path.chmod(0o755)
    for path in (var / "redis" / "server.json", var / "conveyor.db"):
        path.chmod(0o644)
    readers = f"cat {var}/conveyor.db {var}/redis/server.json; ls {var}"
    assert as_nobody(readers).stdout == "rowspasswordconveyor.db\nredis\nworkspaces\n"  # the control

    user = sandbox.StepUser("nobody", NOBODY.pw_uid, NOBODY.pw_gid)
    sandbox.make_private(var, workspaces)
    sandbox.prepare_workspace_root(workspaces, user)
    result = as_nobody(readers)
    assert result.stdout == "" and result.stderr.count("Permission denied") == 3, result.stderr
    assert as_nobody(f"cd {workspaces} && echo reached").stdout == "reached\n"

    sandbox.make_private(var, shared / "elsewhere")  # workspaces outside it: not even reachable
    assert oct(var.stat().st_mode & 0o777) == "0o700"


def test_a_handed_over_workspace_belongs_to_the_step_user_links_included(shared: Path) -> None:
    workspace = shared / "ws"
    (workspace / "src" / "deep").mkdir(parents=True)
    (workspace / "src" / "deep" / "file").write_text("x")
    target = shared / "not-theirs"
    target.write_text("root's")
    (workspace / "src" / "link").symlink_to(target)
    sandbox.hand_over(workspace, sandbox.StepUser("nobody", NOBODY.pw_uid, NOBODY.pw_gid))
    for path in (workspace, workspace / "src", workspace / "src" / "deep" / "file", workspace / "src" / "link"):
        assert path.lstat().st_uid == NOBODY.pw_uid, path
    assert target.stat().st_uid == 0  # the link was given, not what it points at


def test_the_step_user_is_resolved_and_refused_when_unusable(tmp_path: Path) -> None:
    assert sandbox.step_user(None) == sandbox.StepUser("nobody", NOBODY.pw_uid, NOBODY.pw_gid)
    with pytest.raises(ConfigError, match="not a user"):
        sandbox.step_user("no-such-user-here")
    with pytest.raises(ConfigError, match="BUILD_USER"):
        load_settings({"BUILD_USER": "root", "VAR_DIR": str(tmp_path)}, env_file=None)
    with pytest.raises(ConfigError, match="WORKSPACE_DIR"):
        load_settings({"WORKSPACE_DIR": "relative/dir", "VAR_DIR": str(tmp_path)}, env_file=None)


def test_a_workspace_root_the_step_user_cannot_reach_stops_the_worker(tmp_path: Path) -> None:
    """pytest's tmp_path is 0700: nobody can reach inside it, and the worker must say so at boot."""
    user = sandbox.step_user(None)
    with pytest.raises(ConfigError, match="cannot reach"):
        sandbox.prepare_workspace_root(tmp_path / "workspaces", user)
    settings = load_settings({"VAR_DIR": str(tmp_path)}, env_file=None)
    root = sandbox.workspace_root(settings, user)  # the default, as root: in the temporary directory
    assert root.parent == Path(tempfile.gettempdir()) and root.name.startswith("conveyor-workspaces-")


def test_a_worker_whose_build_user_cannot_be_used_stops_at_boot(base_env: dict[str, str], tmp_path: Path) -> None:
    """Not a worker that runs and fails every build later (or, worse, runs steps as itself)."""
    from tests.support.processes import BIN, worker_argv

    env = {"PATH": f"{BIN}:/usr/bin:/bin", **base_env, "BUILD_USER": "no-such-user-here"}
    done = subprocess.run(worker_argv(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, done.stderr[-2000:]
    assert "configuration error: BUILD_USER 'no-such-user-here' is not a user" in done.stderr, done.stderr[-2000:]
