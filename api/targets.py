"""Outbound URLs users give us (webhook targets, cluster and CI API URLs, repositories): refused at creation when they
point inside (SSRF); the worker checks again, after resolving, when it connects."""
from __future__ import annotations

import socket
from typing import Any

from api.errors import invalid
from api.services import services
from core.ssrf import UnsafeTarget, resolve, resolve_host, system_resolver
from core.ssrf import target as ssrf_target
from domain.builds.checkout import CheckoutError, check_literal, source_policy


def check_target(url: str, allow_private: bool, field: str = "url") -> None:
    try:
        resolve(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        raise invalid(field, f"Refused: {exc}.") from None


def check_named_host(url: str, allow_private: bool, field: str = "url") -> None:
    """Refuse a URL whose host is, or resolves to, an internal address; a name that does not resolve from here
    passes (it is stored now and connected to later, when the connection checks the address it resolves to)."""
    try:
        _, host, port = ssrf_target(url)
        try:
            addresses = system_resolver(host, port)
        except (socket.gaierror, UnicodeError):
            return
        resolve_host(host, port, allow_private=allow_private, resolver=lambda _host, _port: addresses)
    except UnsafeTarget as exc:
        raise invalid(field, f"Refused: {exc}.") from None


def check_api_url(body: dict[str, Any]) -> None:
    """A cluster's or CI source's `api_url`, when the body sets one (POLL_ALLOW_PRIVATE lets private ones in)."""
    if "api_url" in body:
        check_target(body["api_url"], services().settings.poll_allow_private, "api_url")


def check_repo_url(body: dict[str, Any]) -> None:
    """A project's `repo_url`, when the body sets one: refused if it names an internal address or localhost,
    or is local without REPO_ALLOW_LOCAL. Other host names are resolved and checked by the worker at each
    checkout: the git server may be reachable from workers only."""
    if "repo_url" in body:
        try:
            check_literal(body["repo_url"], source_policy(services().settings))
        except CheckoutError as exc:
            raise invalid("repo_url", f"{exc}.") from None
