"""Check a project's repository out into a fresh workspace with `git`.

A repository URL is someone's input, so it is an SSRF vector like a webhook target: its host is resolved
and every address checked (REPO_ALLOW_PRIVATE lets internal git servers in), and an http(s) clone then
connects only to an address that was checked (`http.curloptResolve`), without following redirects. A local
path or file:// URL reads the worker's own disk, so it needs REPO_ALLOW_LOCAL (on outside production).
"""
from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from core.settings import Settings
from core.ssrf import Resolver, UnsafeTarget, literal_resolver, resolve_host, system_resolver

CLONE_TIMEOUT = 300
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
# Only these transports: no `ext::` commands, no `fd::`.
ALLOWED_PROTOCOLS = "file:http:https:ssh:git"


_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@(?P<host>[A-Za-z0-9.-]+):")
DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}


class CheckoutError(Exception):
    pass


@dataclass(frozen=True)
class SourcePolicy:
    """Where repositories may come from (settings REPO_ALLOW_PRIVATE and REPO_ALLOW_LOCAL)."""

    allow_private: bool = False
    allow_local: bool = False


@dataclass(frozen=True)
class Source:
    """Where a repository URL that passed the policy points: its scheme, host and port, and the addresses
    checked (none for a local repository)."""

    scheme: str = "file"
    host: str = ""
    port: int = 0
    addresses: tuple[str, ...] = ()

    def pins(self) -> list[str]:
        """git options that hold an http(s) clone to the checked addresses (curl's resolve list, IPv6 in
        brackets; an IP literal host needs none), and to this host (no redirects)."""
        if self.scheme not in ("http", "https"):
            return []
        pins = ["-c", "http.followRedirects=false"]
        if not literal_resolver(self.host, self.port):
            addresses = ",".join(f"[{a}]" if ":" in a else a for a in self.addresses)
            pins += ["-c", f"http.curloptResolve={self.host}:{self.port}:{addresses}"]
        return pins


def source_policy(settings: Settings) -> SourcePolicy:
    return SourcePolicy(allow_private=settings.repo_allow_private, allow_local=settings.repo_allow_local)


def remote(repo_url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a network URL; None for a local path or file:// URL."""
    if "\\" in repo_url:
        raise CheckoutError("repository URL must not contain a backslash")
    if repo_url.startswith("/") or repo_url.startswith("file://"):
        return None
    scp = _SCP_LIKE.match(repo_url)
    if scp and "://" not in repo_url:
        return "ssh", scp.group("host"), DEFAULT_PORTS["ssh"]
    parts = urlsplit(repo_url)
    try:
        port = parts.port
    except ValueError:
        raise CheckoutError("repository URL has an invalid port") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise CheckoutError("repository URL must be http(s)://, ssh://, git://, user@host:path or a local path")
    if parts.password or (parts.username and parts.scheme in ("http", "https")):
        raise CheckoutError("repository URL must not carry credentials: anyone who can read the project sees them")
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def check_source(repo_url: str, policy: SourcePolicy, resolver: Resolver = system_resolver) -> Source:
    """The repository URL if the policy lets it in (its host resolved and checked); CheckoutError if not."""
    where = remote(repo_url)
    if where is None:
        if not policy.allow_local:
            raise CheckoutError("local repositories are refused here (REPO_ALLOW_LOCAL is off)")
        return Source()
    scheme, host, port = where
    try:
        addresses = resolve_host(host, port, policy.allow_private, resolver)
    except UnsafeTarget as exc:
        raise CheckoutError(f"refused: {exc}") from None
    return Source(scheme, host, port, tuple(addresses))


def check_literal(repo_url: str, policy: SourcePolicy) -> None:
    """What can be refused without asking DNS: a local source, an internal IP literal or `localhost`."""
    where = remote(repo_url)
    if where is None or literal_resolver(where[1], where[2]):
        check_source(repo_url, policy, literal_resolver)


def git_env(home: Path, allow_local: bool = True) -> dict[str, str]:
    protocols = ALLOWED_PROTOCOLS if allow_local else ALLOWED_PROTOCOLS.replace("file:", "")
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": protocols,
            "GIT_CONFIG_NOSYSTEM": "1"}


def source_url(repo_url: str) -> str:
    """Local paths become file:// URLs, so that `--depth` applies to them too."""
    return f"file://{repo_url}" if repo_url.startswith("/") else repo_url


def _verb(args: list[str]) -> str:
    """The git command in `args`, past any `-c name=value` options."""
    return next(arg for index, arg in enumerate(args) if arg != "-c" and (index == 0 or args[index - 1] != "-c"))


def _git(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                                timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise CheckoutError(f"git {_verb(args)} timed out after {timeout:.0f}s") from None
    if result.returncode != 0:
        raise CheckoutError(f"git {_verb(args)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()


def checkout(repo_url: str, ref: str | None, dest: Path, home: Path, policy: SourcePolicy,
             timeout: float = CLONE_TIMEOUT, resolver: Resolver = system_resolver,
             extra_env: Mapping[str, str] | None = None) -> str:
    """Clone `ref` (a branch or tag shallowly, a commit in full; None: the remote's default branch, shallowly)
    into `dest`; returns the commit id. `extra_env` reaches git only (say, a credential header as
    GIT_CONFIG_* variables, which keeps it out of the command line)."""
    source = check_source(repo_url, policy, resolver)
    env = {**git_env(home, policy.allow_local), **(extra_env or {})}
    url, pins = source_url(repo_url), source.pins()
    if ref is not None and _COMMIT.fullmatch(ref):
        _git([*pins, "clone", "--quiet", "--no-checkout", "--", url, str(dest)], dest.parent, env, timeout)
        _git(["checkout", "--quiet", "--detach", ref], dest, env, timeout)
    else:
        branch = [] if ref is None else ["--branch", ref]
        _git([*pins, "clone", "--quiet", "--depth", "1", *branch, "--", url, str(dest)], dest.parent, env, timeout)
    return _git(["rev-parse", "HEAD"], dest, env, 30)


def head_branch(dest: Path, home: Path) -> str | None:
    """The branch a clone checked out (None: a detached head)."""
    try:
        return _git(["symbolic-ref", "--quiet", "--short", "HEAD"], dest, git_env(home), 30) or None
    except CheckoutError:
        return None
