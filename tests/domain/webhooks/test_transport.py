"""The delivery transport against real servers on 127.0.0.1: pinned to the checked address, TLS still
checked against the URL's name, no redirects followed, the response read capped."""
from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from domain.webhooks.transport import EXCERPT_BYTES, pinned_url, post

SEEN: dict[str, Any] = {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        SEEN["host"] = self.headers["Host"]
        if self.path == "/redirect":
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = b"x" * 100_000
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve(context: ssl.SSLContext | None) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ca(tmp_path: Path) -> tuple[trustme.CA, str]:
    authority = trustme.CA()
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, str(path)


def tls_server(authority: trustme.CA, name: str) -> AbstractContextManager[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)  # a DNS name only: no IP address in the certificate

    def remember(sock: Any, server_name: str | None, ctx: Any) -> None:
        SEEN["sni"] = server_name

    context.sni_callback = remember
    return serve(context)


def test_https_connects_to_the_checked_address_but_verifies_the_name(ca: tuple[trustme.CA, str]) -> None:
    authority, bundle = ca
    SEEN.clear()
    with tls_server(authority, "localhost") as port:
        outcome = post(f"https://localhost:{port}/hook", b"{}", {}, timeout=5, verify=bundle, allow_private=True)
    assert outcome.status_code == 200, outcome
    assert {"sni": "localhost", "host": f"localhost:{port}"} == SEEN
    assert outcome.response_excerpt is not None and len(outcome.response_excerpt) == EXCERPT_BYTES


def test_a_certificate_for_another_name_is_refused(ca: tuple[trustme.CA, str]) -> None:
    authority, bundle = ca
    with tls_server(authority, "other.example.test") as port:
        outcome = post(f"https://localhost:{port}/hook", b"{}", {}, timeout=5, verify=bundle, allow_private=True)
    assert outcome.status_code is None and outcome.error is not None and "SSLError" in outcome.error


def test_redirects_are_not_followed_and_private_targets_are_refused() -> None:
    with serve(None) as port:
        redirected = post(f"http://127.0.0.1:{port}/redirect", b"{}", {}, timeout=5, verify=True, allow_private=True)
        refused = post(f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout=5, verify=True, allow_private=False)
    assert redirected.status_code == 307 and redirected.error is None
    assert refused.status_code is None and refused.error is not None and "loopback" in refused.error


def test_a_closed_port_is_a_connection_error() -> None:
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = post(f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout=5, verify=True, allow_private=True)
    assert outcome.status_code is None and outcome.error is not None and "ConnectionError" in outcome.error


@pytest.mark.parametrize(("url", "address", "expected"), [
    ("https://hooks.example.com/a?b=1", "93.184.216.34", ("https://93.184.216.34/a?b=1", "hooks.example.com")),
    ("http://hooks.example.com:8080", "2001:db8::1", ("http://[2001:db8::1]:8080/", "hooks.example.com:8080")),
])
def test_pinned_urls_keep_the_path_and_the_host_header(url: str, address: str, expected: tuple[str, str]) -> None:
    assert pinned_url(url, address) == expected
