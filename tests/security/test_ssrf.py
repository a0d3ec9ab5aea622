"""Server-side request forgery (OWASP API7): every URL a user gives the API that a worker will call.

The URL fields are found in the OpenAPI document (every request-body property of format `url`), so a
new one must be taught here. Internal addresses in every spelling are refused at creation and on
update, and by the guard itself (`ssrf.resolve`, which the worker runs again before connecting).
Redirects are never followed, and the connection goes to the very address that was checked: a resolver
stub that answers differently on its second call (DNS rebinding) is never asked twice.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.ssrf import UnsafeTarget, resolve
from domain.polling.http import Api
from domain.webhooks.transport import post
from tests.security.world import PUBLIC_IP
from tests.support.envelope import assert_envelope
from tests.support.receiver import receiving

# Loopback, private, link-local, cloud metadata, unspecified, multicast and carrier-grade NAT, in the
# spellings that parsers disagree on: decimal, hex, octal, shortened, IPv6, IPv4-mapped, 6to4, NAT64.
INTERNAL = [
    "http://127.0.0.1/", "http://localhost:8080/", "http://127.1/", "http://2130706433/", "http://0x7f000001/",
    "http://0177.0.0.1/", "http://017700000001/", "http://0/", "http://0.0.0.0/", "http://10.0.0.1/",
    "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/", "http://224.0.0.1/", "http://[::1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://[0:0:0:0:0:ffff:169.254.169.254]/", "http://[fe80::1]/",
    "http://[fd00::1]/", "http://[fec0::1]/", "http://[2002:7f00:1::]/", "http://[2002:a9fe:a9fe::]/",
    "http://[64:ff9b::a9fe:a9fe]/", "http://[::7f00:1]/",
    # The host a naive parser sees first is public; the one that is called is not.
    f"http://{PUBLIC_IP}@127.0.0.1/", f"http://127.0.0.1#@{PUBLIC_IP}/", f"http://127.0.0.1\\@{PUBLIC_IP}/",
]
# For each (method, OpenAPI path) that takes a URL: the field, and a body that is otherwise valid.
# (method, path, the URL field, the rest of a body that would otherwise be accepted)
URL_FIELDS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("POST", "/api/v1/webhooks", "url", {"name": "hook"}),
    ("PUT", "/api/v1/webhooks/{webhook_id}", "url", {}),
    ("POST", "/api/v1/kubernetes/clusters", "api_url", {"name": "prod", "token": "t0ken"}),
    ("PATCH", "/api/v1/kubernetes/clusters/{name}", "api_url", {}),
    ("POST", "/api/v1/ci/sources", "api_url", {"provider": "github", "repository": "o/r", "token": "t0ken"}),
    ("PATCH", "/api/v1/ci/sources/{source_id}", "api_url", {}),
    ("POST", "/api/v1/repositories", "url", {"provider": "github"}),
    ("POST", "/api/v1/repositories", "api_url", {"provider": "github", "url": "https://github.com/o/r"}),
    ("PUT", "/api/v1/repositories/{repository_id}", "api_url", {}),
]


def url_fields(client: FlaskClient) -> set[tuple[str, str, str]]:
    """(method, path, property) of every request body property the OpenAPI document calls a URL."""
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    found = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            schema = body.get("content", {}).get("application/json", {}).get("schema", {})
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema
            found |= {(method.upper(), path, name) for name, prop in schema.get("properties", {}).items()
                      if prop.get("format") in ("url", "uri")}
    return found


@pytest.fixture
def existing(client: FlaskClient, auth: Any) -> dict[str, str]:
    """A webhook, a cluster, a CI source and a repository on a public address: the paths the updates go to."""
    user = auth("user")
    webhook = client.post("/api/v1/webhooks", headers=user, json={"name": "w", "url": f"https://{PUBLIC_IP}/"})
    source = client.post("/api/v1/ci/sources", headers=user, json={
        "provider": "github", "repository": "o/existing", "api_url": f"https://{PUBLIC_IP}", "token": "t0ken"})
    cluster = client.post("/api/v1/kubernetes/clusters", headers=user, json={
        "name": "existing", "api_url": f"https://{PUBLIC_IP}", "token": "t0ken"})
    org = client.post("/api/v1/organizations", headers=user, json={"name": "existing"})
    repository = client.post("/api/v1/repositories", headers=user, json={
        "organization_id": org.get_json()["id"], "provider": "github", "url": "https://github.com/o/existing",
        "api_url": f"https://{PUBLIC_IP}"})
    assert [r.status_code for r in (webhook, source, cluster, repository)] == [201, 201, 201, 201]
    return {"{webhook_id}": str(webhook.get_json()["id"]), "{source_id}": str(source.get_json()["id"]),
            "{name}": "existing", "{repository_id}": str(repository.get_json()["id"])}


def test_every_url_field_of_the_api_is_known_to_this_suite(client: FlaskClient) -> None:
    assert url_fields(client) == {(method, path, field) for method, path, field, _ in URL_FIELDS}


def test_every_url_field_refuses_internal_targets_and_stores_nothing(
        client: FlaskClient, auth: Any, existing: dict[str, str]) -> None:
    user = auth("user")
    before = {path: client.get(path, headers=user).get_json() for path in (
        "/api/v1/webhooks", "/api/v1/kubernetes/clusters", "/api/v1/ci/sources", "/api/v1/repositories")}
    for method, path, field, body in URL_FIELDS:
        for key, value in existing.items():
            path = path.replace(key, value)
        for url in INTERNAL:
            response = client.open(path, method=method, headers=user, json={**body, field: url})
            assert response.status_code == 422, (method, path, url, response.get_json())
            assert field in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]
    after = {path: client.get(path, headers=user).get_json() for path in before}
    assert after == before


@pytest.mark.parametrize("url", INTERNAL)
def test_the_guard_itself_refuses_each_spelling(url: str) -> None:
    """Not only the URL validator in front of it: the check the worker repeats before connecting."""
    with pytest.raises(UnsafeTarget):
        resolve(url)


def test_the_guard_accepts_a_public_address() -> None:
    assert resolve(f"https://{PUBLIC_IP}:8443/x") == [PUBLIC_IP]


class Rebinding:
    """A resolver stub: `first` on the first question, `then` on every later one (a DNS rebinding)."""

    def __init__(self, first: list[str], then: list[str]) -> None:
        self.first, self.then, self.asked = first, then, 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        return self.first if self.asked == 1 else self.then


def test_a_name_with_any_internal_address_among_its_answers_is_refused() -> None:
    for answers in ([PUBLIC_IP, "127.0.0.1"], ["169.254.169.254", PUBLIC_IP], [PUBLIC_IP, "::ffff:10.0.0.1"]):
        with pytest.raises(UnsafeTarget):
            resolve("https://hooks.rebind.test/", resolver=Rebinding(answers, answers))
        outcome = post("https://hooks.rebind.test/", b"{}", {}, timeout=1, verify=True, allow_private=False,
                       resolver=Rebinding(answers, answers))
        assert outcome.status_code is None and outcome.error is not None and "refused target" in outcome.error


class Answer(BaseHTTPRequestHandler):
    """200 to anything; `/redirect` answers 302 to wherever the server's `location` says."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.hits += 1  # type: ignore[attr-defined]
        redirect = self.path.startswith("/redirect")
        self.send_response(302 if redirect else 200)
        if redirect:
            self.send_header("Location", self.server.location)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(host: str, port: int = 0, location: str = "") -> Iterator[Any]:
    family = ThreadingHTTPServer if ":" not in host else type("V6", (ThreadingHTTPServer,), {"address_family": 10})
    server = family((host, port), Answer)
    server.hits, server.location = 0, location  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_the_connection_goes_to_the_checked_address_not_a_second_answer() -> None:
    """Two servers on one port, 127.0.0.1 and ::1 (both this machine). The name resolves to 127.0.0.1 when
    checked and to ::1 afterwards: the webhook POST and every poll GET reach 127.0.0.1 only, and the
    stub is asked once per target. (The check is switched off here, so that both answers are local: what
    is under test is that the address used is the one that was checked.)"""
    with serving("127.0.0.1") as checked, serving("::1", checked.server_address[1]) as rebound:
        url = f"http://conveyor.rebind.test:{checked.server_address[1]}"
        stub = Rebinding(["127.0.0.1"], ["::1"])
        outcome = post(f"{url}/hook", b"{}", {}, timeout=5, verify=True, allow_private=True, resolver=stub)
        assert outcome.status_code == 200, outcome
        poller_stub = Rebinding(["127.0.0.1"], ["::1"])
        api = Api(url, {}, timeout=5, verify=True, allow_private=True, resolver=poller_stub)
        try:
            assert [api.get(f"/page/{n}").status_code for n in range(3)] == [200, 200, 200]
        finally:
            api.close()
        assert (checked.hits, rebound.hits) == (4, 0)
        assert (stub.asked, poller_stub.asked) == (1, 1)


def test_polls_do_not_follow_redirects_to_internal_addresses() -> None:
    """A CI or Kubernetes API answering 302 to an internal URL: the poller reads the 302 and stops."""
    with receiving([200]) as internal, serving("127.0.0.1", location=internal.url) as api_server:
        api = Api(f"http://127.0.0.1:{api_server.server_address[1]}", {"Authorization": "Bearer t0ken"},
                  timeout=5, verify=True, allow_private=True)
        try:
            response = api.get("/redirect")
        finally:
            api.close()
        assert response.status_code == 302 and api_server.hits == 1
        assert internal.count() == 0
        delivered = post(f"http://127.0.0.1:{api_server.server_address[1]}/redirect", b"{}", {}, timeout=5,
                         verify=True, allow_private=True)
        assert delivered.status_code == 302 and internal.count() == 0
