"""One HTTP attempt: POST to an address the SSRF guard checked, never a fresh DNS answer.

The URL's host is resolved and checked once (`ssrf.resolve`); the connection then goes to that IP,
with the original name kept for the Host header, TLS SNI and the certificate check. Redirects are
not followed and at most EXCERPT_BYTES of the response are read.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from core.ssrf import Resolver, UnsafeTarget, resolve, system_resolver

EXCERPT_BYTES = 2048


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None = None
    response_excerpt: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class PinnedAdapter(HTTPAdapter):
    """Connects wherever the request URL points (an IP) while TLS checks the certificate for `hostname`."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: bool | str,
                                             cert: Any = None) -> Any:
        host_params, kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        pool_kwargs = cast(dict[str, Any], kwargs)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self.hostname
            if verify:
                pool_kwargs["assert_hostname"] = self.hostname
        return host_params, pool_kwargs


def pinned_url(url: str, address: str) -> tuple[str, str]:
    """(the URL aimed at `address`, the Host header the original URL implies)."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, verify: bool | str,
         allow_private: bool, resolver: Resolver = system_resolver) -> Outcome:
    """POST `body`; every failure (refused target, DNS, connect, timeout, TLS) comes back as an Outcome."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        addresses = resolve(url, allow_private=allow_private, resolver=resolver)
    except UnsafeTarget as exc:
        return Outcome(None, elapsed(), f"refused target: {exc}")
    target, host_header = pinned_url(url, addresses[0])
    # The adapter alone, without a Session: no cookies, no proxies or .netrc from the environment.
    adapter = PinnedAdapter(urlsplit(url).hostname or "")
    request = requests.Request("POST", target, data=body, headers={**headers, "Host": host_header}).prepare()
    try:
        return _send(adapter, request, timeout, verify, elapsed)
    finally:
        adapter.close()


def _send(adapter: PinnedAdapter, request: requests.PreparedRequest, timeout: float, verify: bool | str,
          elapsed: Any) -> Outcome:
    try:
        response = adapter.send(request, stream=True, timeout=(timeout, timeout), verify=verify)
    except requests.Timeout:
        return Outcome(None, elapsed(), f"timed out after {timeout:g} s")
    except requests.RequestException as exc:
        return Outcome(None, elapsed(), f"{type(exc).__name__}: {exc}"[:500])
    with response:
        try:
            excerpt = response.raw.read(EXCERPT_BYTES, decode_content=True)
        except Exception:  # a broken body does not change the status the receiver gave
            excerpt = b""
    return Outcome(response.status_code, elapsed(), None, excerpt.decode("utf-8", "replace") or None)
