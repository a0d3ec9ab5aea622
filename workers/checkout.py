"""Check a project's repository out into a fresh workspace with `git`."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

CLONE_TIMEOUT = 300
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
# Only these transports: no `ext::` commands, no `fd::`.
ALLOWED_PROTOCOLS = "file:http:https:ssh:git"


class CheckoutError(Exception):
    pass


def git_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
            "GIT_CONFIG_NOSYSTEM": "1"}


def source_url(repo_url: str) -> str:
    """Local paths become file:// URLs, so that `--depth` applies to them too."""
    return f"file://{repo_url}" if repo_url.startswith("/") else repo_url


def _git(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                                timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise CheckoutError(f"git {args[0]} timed out after {timeout:.0f}s") from None
    if result.returncode != 0:
        raise CheckoutError(f"git {args[0]} failed: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()


def checkout(repo_url: str, ref: str, dest: Path, home: Path, timeout: float = CLONE_TIMEOUT) -> str:
    """Clone `ref` (a branch or tag shallowly, a commit in full) into `dest`; returns the commit id."""
    env = git_env(home)
    url = source_url(repo_url)
    if _COMMIT.fullmatch(ref):
        _git(["clone", "--quiet", "--no-checkout", "--", url, str(dest)], dest.parent, env, timeout)
        _git(["checkout", "--quiet", "--detach", ref], dest, env, timeout)
    else:
        _git(["clone", "--quiet", "--depth", "1", "--branch", ref, "--", url, str(dest)], dest.parent, env, timeout)
    return _git(["rev-parse", "HEAD"], dest, env, 30)
