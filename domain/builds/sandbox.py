"""What a build step, someone else's code, can reach of the worker that runs it.

On top of the scrubbed environment a step gets (`builds.step_env`):
- The worker makes itself non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`). The kernel then refuses a process of
  the same uid without CAP_SYS_PTRACE its `/proc/<worker>/environ`, `/proc/<worker>/mem` and ptrace, so
  a step cannot read the secrets the worker was started with. A step's own exec makes it dumpable again.
- A worker running as root runs steps as `BUILD_USER` (default `nobody`) with no supplementary groups, so
  they cannot read root's processes or files either. Their workspaces then live where that user can reach
  them: `WORKSPACE_DIR`, by default a root-owned directory in the system's temporary directory.
- `VAR_DIR` (secret key, SQLite database, the embedded Redis's password) is made private to the worker's
  user at boot: 0700, or 0711 (reachable, not listable) when the workspaces live inside it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import logging
import os
import pwd
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import ConfigError, Settings

log = logging.getLogger(__name__)
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
DEFAULT_STEP_USER = "nobody"


@dataclass(frozen=True)
class StepUser:
    """An unprivileged account that steps run as."""

    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _prctl(option: int, value: int = 0) -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    result = int(libc.prctl(option, value, 0, 0, 0))
    if result < 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")
    return result


def protect_process() -> bool:
    """Make this process non-dumpable; False where the platform has no prctl (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    _prctl(PR_SET_DUMPABLE, 0)
    return _prctl(PR_GET_DUMPABLE) == 0


def step_user(configured: str | None) -> StepUser | None:
    """Who steps run as: None means the worker's own user (a worker not running as root)."""
    if os.geteuid() != 0:
        if configured and configured != pwd.getpwuid(os.geteuid()).pw_name:
            raise ConfigError(f"BUILD_USER={configured} needs the worker to run as root; unset it or "
                              f"start the worker as root")
        return None
    name = configured or DEFAULT_STEP_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(f"BUILD_USER {name!r} is not a user on this machine") from None
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise ConfigError(f"BUILD_USER {name!r} has root's uid or gid")
    return StepUser(name, entry.pw_uid, entry.pw_gid)


def workspace_root(settings: Settings, user: StepUser | None) -> Path:
    """Where builds and analyses check out: WORKSPACE_DIR, else under VAR_DIR for a worker's own user, else
    a directory of this VAR_DIR's in the system's temporary directory (reachable by any user)."""
    if settings.workspace_dir is not None:
        return settings.workspace_dir
    if user is None:
        return settings.var_dir / "workspaces"
    tag = hashlib.sha256(str(settings.var_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"conveyor-workspaces-{tag}"


def _reachable_by(path: Path, user: StepUser) -> bool:
    for directory in (path, *path.parents):
        info = directory.stat()
        bit = stat.S_IXUSR if info.st_uid == user.uid else stat.S_IXGRP if info.st_gid == user.gid \
            else stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def prepare_workspace_root(root: Path, user: StepUser | None) -> None:
    """Create the workspace root as ours: traversable by the step user, listable by nobody else."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = root.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise ConfigError(f"workspace directory {root} is not a directory owned by this worker's user")
    os.chmod(root, 0o711 if user else 0o700)
    if user and not _reachable_by(root, user):
        raise ConfigError(f"BUILD_USER {user.name} cannot reach the workspace directory {root}: "
                          f"set WORKSPACE_DIR to a directory it can reach")


def make_private(var_dir: Path, workspaces: Path) -> None:
    """VAR_DIR and what is in it for the worker's user only; the workspaces stay reachable when inside it."""
    if not var_dir.is_dir():
        return
    inside = workspaces == var_dir or var_dir in workspaces.parents
    changes = [(var_dir, 0o711 if inside else 0o700)]
    for entry in var_dir.iterdir():
        if entry.is_symlink() or (inside and (entry == workspaces or entry in workspaces.parents)):
            continue
        changes.append((entry, stat.S_IMODE(entry.stat().st_mode) & 0o700))
    for path, mode in changes:
        try:
            os.chmod(path, mode)
        except PermissionError:  # another user's VAR_DIR (shared with an API running as that user)
            log.warning("cannot make %s private: it belongs to another user", path)


def hand_over(path: Path, user: StepUser | None) -> None:
    """Give a checked-out workspace to the step user (links themselves, never what they point at)."""
    if user is None:
        return
    os.lchown(path, user.uid, user.gid)
    for parent, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.lchown(os.path.join(parent, name), user.uid, user.gid)


def prepare(settings: Settings) -> tuple[StepUser | None, Path]:
    """At worker boot: protect the process, resolve the step user, make VAR_DIR private, make the root."""
    protected = protect_process()
    user = step_user(settings.build_user)
    root = workspace_root(settings, user)
    make_private(settings.var_dir, root)
    prepare_workspace_root(root, user)
    log.info("build steps run as %s in %s (worker non-dumpable: %s)",
             user.name if user else "the worker's user", root, protected)
    return user, root


_prepared: tuple[StepUser | None, Path] | None = None


def current(settings: Settings) -> tuple[StepUser | None, Path]:
    """This process's step user and workspace root, prepared once (at worker boot, by `middleware.StepSandbox`)."""
    global _prepared
    if _prepared is None:
        _prepared = prepare(settings)
    return _prepared
