"""GET JSON from a cluster's or CI provider's API, the way webhook delivery POSTs: the host is resolved and
SSRF-checked once (unless POLL_ALLOW_PRIVATE), and every request goes to that checked address, with the
name kept for the Host header, TLS SNI and the certificate check. No redirects, no proxies or .netrc from
the environment, a time-out on every request, and a bound on the body read.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from core.ssrf import Resolver, UnsafeTarget, resolve, system_resolver
from domain.webhooks.transport import PinnedAdapter, pinned_url

MAX_BODY_BYTES = 64 * 1024 * 1024


class PollError(Exception):
    """The remote API could not be read; the message is safe to store and show (no credentials)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Api:
    def __init__(self, base_url: str, headers: dict[str, str], *, timeout: float, verify: bool | str,
                 allow_private: bool, resolver: Resolver = system_resolver) -> None:
        try:
            self.address = resolve(base_url, allow_private=allow_private, resolver=resolver)[0]
        except UnsafeTarget as exc:
            raise PollError(f"refused target: {exc}") from None
        self.base_url = base_url.rstrip("/")
        self.headers, self.timeout, self.verify = headers, timeout, verify
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.mount(f"{urlsplit(base_url).scheme}://", PinnedAdapter(urlsplit(base_url).hostname or ""))

    def close(self) -> None:
        self.session.close()

    def _safe_detail(self, exc: BaseException) -> str:
        detail = _first_line(exc)
        secrets = [value for value in self.headers.values() if len(value) >= 6]
        if not detail or any(part in detail for value in secrets for part in (value, value.split()[-1])):
            return ""
        return f": {detail}"

    def get(self, path: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> requests.Response:
        """The response, body read (bounded); PollError when there is none (refused, DNS, connect, TLS, time-out)."""
        target, host = pinned_url(self.base_url + path, self.address)
        try:
            response = self.session.get(target, params=params, timeout=(self.timeout, self.timeout),
                                        headers={**self.headers, **(headers or {}), "Host": host},
                                        verify=self.verify, allow_redirects=False, stream=True)
            body = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            raise PollError(f"GET {path}: timed out after {self.timeout:g} s") from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            # Some of these quote the request's headers (an invalid header value is the token itself):
            # the text is kept only when it holds none of them.
            raise PollError(f"GET {path}: {type(exc).__name__}{self._safe_detail(exc)}") from None
        if len(body) > MAX_BODY_BYTES:
            raise PollError(f"GET {path}: the response is larger than {MAX_BODY_BYTES} bytes")
        response._content = body
        return response


def timestamp(text: Any) -> datetime | None:
    """An API's ISO 8601 time as naive UTC; None when absent or unreadable."""
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) and text else None
        return moment if moment is None or moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None


def json_body(response: requests.Response, path: str) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        raise PollError(f"GET {path}: HTTP {response.status_code}, not JSON") from None


def failure(response: requests.Response, path: str) -> PollError:
    """An HTTP error as a PollError, with the API's own message when it gave one."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    detail = f": {str(message)[:200]}" if message else ""
    return PollError(f"GET {path}: HTTP {response.status_code}{detail}", response.status_code)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else ""


@contextmanager
def ca_bundle(ca_cert: str | None, verify_ssl: bool) -> Iterator[bool | str]:
    """What `requests` takes as `verify`: a CA file written for the duration, True, or False."""
    if not verify_ssl:
        yield False
        return
    if not ca_cert:
        yield True
        return
    with tempfile.NamedTemporaryFile("w", suffix=".pem", prefix="conveyor-ca-") as handle:
        handle.write(ca_cert)
        handle.flush()
        yield handle.name
