"""Polling a Kubernetes cluster (a fixture server on 127.0.0.1 speaking the real API's JSON): snapshots,
statuses, usage, paging, TLS, alerts that fire once and resolve, and a cluster that cannot be reached."""
from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from flask.testing import FlaskClient

from core.runtime import Runtime
from domain.polling import clusters
from domain.polling.due import claim_due
from domain.polling.http import Api, PollError
from models.alert import Alert
from models.cluster import Cluster
from models.db import db
from models.event import Event
from tests.conftest import create_user, login
from tests.support.fake_kubernetes import FakeKubernetes, node, pod
from tests.support.processes import wait_for

pytestmark = pytest.mark.local_receivers
BASE = "/api/v1/kubernetes/clusters"


@pytest.fixture
def kube() -> Iterator[FakeKubernetes]:
    with FakeKubernetes() as server:
        server.nodes = [node("node-1"), node("node-2"), node("node-3", ready=False)]
        server.pods = [pod("web-1"), pod("web-2", node="node-2"),
                       pod("worker-1", namespace="batch", waiting_reason="CrashLoopBackOff", restarts=7),
                       pod("api-1", namespace="shop", waiting_reason="ImagePullBackOff", ready=False),
                       pod("pending-1", phase="Pending", node=None, ready=False)]
        server.node_usage = {"node-1": ("1500m", "8Gi"), "node-2": ("250000000n", "4096Mi")}
        server.pod_usage = {("default", "web-1"): [("120m", "256Mi")]}
        yield server


def add(client: FlaskClient, headers: dict[str, str], server: FakeKubernetes, name: str = "prod",
        **extra: Any) -> dict[str, Any]:
    body = {"name": name, "api_url": server.url, "token": server.token, **extra}
    response = client.post(BASE, headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def poll(runtime: Runtime, name: str = "prod") -> dict[str, Any]:
    with db.connection_context():
        return clusters.poll(runtime, Cluster.get(Cluster.name == name))


def listed(client: FlaskClient, headers: dict[str, str], path: str, **query: str) -> list[dict[str, Any]]:
    response = client.get(f"{BASE}/prod/{path}", headers=headers, query_string={"limit": "100", **query})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]  # type: ignore[no-any-return]


def open_alerts() -> dict[str, str]:
    with db.connection_context():
        return {a.rule_name + ":" + "/".join(a.tags.get(k, "") for k in ("node", "namespace", "pod")): a.severity
                for a in Alert.select().where(Alert.open_key.is_null(False))}


def test_a_poll_records_the_cluster_its_nodes_and_pods(
        runtime: Runtime, client: FlaskClient, auth: Any, kube: FakeKubernetes) -> None:
    user = auth("user")
    add(client, user, kube)
    assert poll(runtime)["status"] == "healthy"
    shown = client.get(f"{BASE}/prod", headers=user).get_json()
    assert shown["status"] == "healthy" and shown["version"] == "v1.29.2" and shown["last_error"] is None
    assert (shown["nodes"], shown["pods"], shown["metrics_available"]) == (3, 5, True)
    assert shown["namespaces"] == 4  # batch, default, kube-system, shop
    nodes = {n["name"]: n for n in listed(client, user, "nodes")}
    assert [nodes[n]["status"] for n in ("node-1", "node-2", "node-3")] == ["Ready", "Ready", "NotReady"]
    assert (nodes["node-1"]["cpu_usage"], nodes["node-1"]["memory_usage"]) == (37.5, 50.0)  # of 4 cores, 16Gi
    assert (nodes["node-2"]["cpu_usage"], nodes["node-2"]["memory_usage"]) == (6.2, 25.0)  # 0.25 of 4; 4Gi of 16
    assert nodes["node-3"]["cpu_usage"] is None and nodes["node-1"]["pods"] == 3 and nodes["node-2"]["pods"] == 1
    pods = {p["name"]: p for p in listed(client, user, "pods")}
    assert {name: p["status"] for name, p in pods.items()} == {
        "web-1": "Running", "web-2": "Running", "worker-1": "CrashLoopBackOff", "api-1": "ImagePullBackOff",
        "pending-1": "Pending"}
    assert pods["worker-1"]["restarts"] == 7 and pods["worker-1"]["phase"] == "Running"
    assert (pods["web-1"]["cpu_usage"], pods["web-1"]["memory_usage"], pods["web-1"]["ready"]) == (120.0, 256.0, True)
    assert pods["api-1"]["ready"] is False and pods["pending-1"]["node"] is None
    assert [p["name"] for p in listed(client, user, "pods", namespace="batch")] == ["worker-1"]
    assert [p["name"] for p in listed(client, user, "pods", status="Running")] == ["web-1", "web-2"]
    assert [p["name"] for p in listed(client, user, "pods", namespace="default", status="Pending")] == ["pending-1"]
    assert all(r.headers.get("authorization") == f"Bearer {kube.token}" for r in kube.requests)


def test_lists_are_read_page_by_page(runtime: Runtime, client: FlaskClient, auth: Any, kube: FakeKubernetes) -> None:
    kube.pods = [pod(f"p-{i:04d}", node="node-1") for i in range(1203)]
    add(client, auth("user"), kube)
    assert poll(runtime)["pods"] == 1203
    pages = [r for r in kube.requests if r.path == "/api/v1/pods"]
    assert [r.query.get("limit") for r in pages] == ["500"] * 3
    assert "continue" not in pages[0].query and all(r.query.get("continue") for r in pages[1:])


def test_without_metrics_server_usage_is_unknown(
        runtime: Runtime, client: FlaskClient, auth: Any, kube: FakeKubernetes) -> None:
    user = auth("user")
    kube.metrics_enabled = False
    add(client, user, kube)
    assert poll(runtime)["status"] == "healthy"
    assert client.get(f"{BASE}/prod", headers=user).get_json()["metrics_available"] is False
    assert {n["cpu_usage"] for n in listed(client, user, "nodes")} == {None}


def test_alerts_fire_once_and_resolve_when_cleared(
        runtime: Runtime, client: FlaskClient, auth: Any, kube: FakeKubernetes) -> None:
    add(client, auth("user"), kube)
    poll(runtime)
    expected = {"kubernetes.node_not_ready:node-3//": "CRITICAL",
                "kubernetes.pod_crash_looping:/batch/worker-1": "CRITICAL",
                "kubernetes.pod_restarts:/batch/worker-1": "WARNING"}
    assert open_alerts() == expected
    assert poll(runtime)["alerts_raised"] == 0 and open_alerts() == expected  # a second poll duplicates nothing
    kube.nodes[2] = node("node-3")
    kube.pods[2] = pod("worker-1", namespace="batch", restarts=7)  # running again, but restarted often
    result = poll(runtime)
    assert (result["alerts_raised"], result["alerts_resolved"]) == (0, 2)
    assert open_alerts() == {"kubernetes.pod_restarts:/batch/worker-1": "WARNING"}
    kube.pods.pop(2)  # the pod is gone: nothing left to alert on
    poll(runtime)
    assert open_alerts() == {}
    with db.connection_context():
        types = [e.type for e in Event.select().order_by(Event.id)]
        resolved = Alert.get(Alert.rule_name == "kubernetes.node_not_ready")
    assert types.count("alert.created") == 3 and types.count("alert.resolved") == 3
    assert resolved.status == "resolved" and resolved.context["resolution"] == "the condition cleared"
    assert resolved.context["cluster"] == "prod" and resolved.severity == "CRITICAL"


def test_restart_threshold_is_configurable(make_app: Any, kube: FakeKubernetes) -> None:
    app = make_app(POLL_ALLOW_PRIVATE="true", KUBERNETES_RESTART_ALERT_THRESHOLD="8")
    client = app.test_client()
    create_user("threshold-user")
    add(client, {"Authorization": f"Bearer {login(client, 'threshold-user')['access_token']}"}, kube)
    poll(app.extensions["conveyor"].runtime)
    assert "kubernetes.pod_crash_looping:/batch/worker-1" in open_alerts()
    assert "kubernetes.pod_restarts:/batch/worker-1" not in open_alerts()  # 7 restarts, under 8


@pytest.mark.parametrize(("change", "error"), [
    ({"token": "wrong-token"}, "HTTP 401: Unauthorized"),
    ({"fail_with": 503}, "HTTP 503"),
])
def test_a_cluster_that_refuses_is_unhealthy_with_the_error(runtime: Runtime,
        client: FlaskClient, auth: Any, kube: FakeKubernetes, change: dict[str, Any], error: str) -> None:
    user = auth("user")
    add(client, user, kube, token=change.get("token", kube.token))
    kube.fail_with = change.get("fail_with")
    assert poll(runtime)["status"] == "unhealthy"
    shown = client.get(f"{BASE}/prod", headers=user).get_json()
    assert shown["status"] == "unhealthy" and error in shown["last_error"]
    assert "wrong-token" not in shown["last_error"] and kube.token not in str(shown)
    assert list(open_alerts()) == ["kubernetes.cluster_unreachable://"]
    kube.fail_with = None
    if "token" in change:
        assert client.patch(f"{BASE}/prod", headers=user, json={"token": kube.token}).status_code == 200
    assert poll(runtime)["status"] == "healthy" and "kubernetes.cluster_unreachable://" not in open_alerts()


def test_tls_with_the_clusters_own_ca(runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    user = auth("user")
    with FakeKubernetes(ssl_context=context) as server:
        server.nodes = [node("node-1")]
        add(client, user, server, name="trusted", ca_cert=ca.cert_pem.bytes().decode())
        add(client, user, server, name="untrusted")
        add(client, user, server, name="unchecked", verify_ssl=False)
        assert poll(runtime, "trusted")["status"] == "healthy"
        failed = poll(runtime, "untrusted")
        assert failed["status"] == "unhealthy" and "SSL" in failed["error"]
        assert poll(runtime, "unchecked")["status"] == "healthy"


def test_one_unreachable_cluster_does_not_stop_the_others(
        client: FlaskClient, auth: Any, kube: FakeKubernetes, worker: Any, tmp_path: Path) -> None:
    user, admin = auth("user"), auth("admin")
    add(client, user, kube, name="good")
    gone = FakeKubernetes().start()
    gone.stop()  # nothing listens there any more
    add(client, user, gone, name="gone")
    assert client.post("/api/v1/admin/jobs/poll_clusters/run", headers=admin).status_code == 202

    def status(name: str) -> str:
        return str(client.get(f"{BASE}/{name}", headers=user).get_json()["status"])

    wait_for(lambda: status("good") != "unknown" and status("gone") != "unknown", timeout=30, what="both polls")
    assert (status("good"), status("gone")) == ("healthy", "unhealthy")
    error = client.get(f"{BASE}/gone", headers=user).get_json()["last_error"]
    assert "ConnectionError" in error and "/version" in error
    assert client.post(f"{BASE}/good/poll", headers=user).status_code == 202
    wait_for(lambda: kube.hits("/version") >= 2, timeout=30, what="the poll asked for by the API")
    logs = "".join(path.read_text() for path in tmp_path.glob("*.log"))
    assert kube.token not in logs and "cluster poll failed" in logs


def test_due_polls_keep_their_interval_and_are_claimed_once(client: FlaskClient, auth: Any,
                                                           kube: FakeKubernetes) -> None:
    add(client, auth("user"), kube, poll_interval_seconds=10)
    with db.connection_context():
        due = Cluster.get(Cluster.name == "prod").next_poll_at

        def claim(after: float) -> list[int]:
            return claim_due(Cluster, now=due + timedelta(seconds=after))

        assert len(claim(4.9)) == 1 and claim(4.9) == []  # claimed once, not twice in one tick
        assert claim(9.99) == [] and len(claim(10)) == 1  # due again 10 s after it was due, not after the tick
        assert len(claim(100)) == 1  # far behind: the next poll is an interval from now
        assert Cluster.get(Cluster.name == "prod").next_poll_at == due + timedelta(seconds=110)


def test_an_answer_that_makes_no_sense_marks_the_cluster_unhealthy(runtime: Runtime,
        client: FlaskClient, auth: Any, kube: FakeKubernetes) -> None:
    user = auth("user")
    add(client, user, kube)
    kube.nodes[0]["status"]["conditions"] = "not a list of conditions"
    assert poll(runtime)["status"] == "unhealthy"
    shown = client.get(f"{BASE}/prod", headers=user).get_json()
    assert shown["status"] == "unhealthy" and shown["last_error"].startswith("unreadable answer: ")


def test_cluster_alerts_are_for_their_owner_and_admins(
        runtime: Runtime, client: FlaskClient, auth: Any, kube: FakeKubernetes) -> None:
    owner, other, admin = auth("user"), auth("user", "someone-else"), auth("admin")
    add(client, owner, kube)
    poll(runtime)

    def seen(headers: dict[str, str]) -> int:
        return int(client.get("/api/v1/alerts", headers=headers).get_json()["total"])

    assert (seen(owner), seen(other), seen(admin)) == (3, 0, 3)
    alert_id = client.get("/api/v1/alerts", headers=owner).get_json()["items"][0]["id"]
    assert client.get(f"/api/v1/alerts/{alert_id}", headers=other).status_code == 404
    refused = client.post("/api/v1/alerts/acknowledge", headers=other, json={"alert_ids": [alert_id]}).get_json()
    assert refused["acknowledged"] == 0 and refused["failures"] == [{"id": alert_id, "reason": "not found"}]
    with db.connection_context():
        created = [e.owner_id for e in Event.select().where(Event.type == "alert.created")]
        owner_id = Cluster.get(Cluster.name == "prod").owner_id
    assert created == [owner_id] * 3  # so their webhooks go to the owner's endpoints (and admins')


def test_an_error_that_quotes_a_header_never_shows_the_token(kube: FakeKubernetes) -> None:
    api = Api(kube.url, {"Authorization": "Bearer secret-token-value\n"}, timeout=5, verify=True, allow_private=True)
    with pytest.raises(PollError) as raised:
        api.get("/version")
    assert "secret-token-value" not in str(raised.value) and str(raised.value).startswith("GET /version: Invalid")


def test_health_deep_shows_each_outside_service_as_its_last_poll_found_it(
        runtime: Runtime, client: FlaskClient, auth: Any, kube: FakeKubernetes) -> None:
    def external() -> dict[str, Any]:
        return client.get("/health/deep").get_json()["external_services"]  # type: ignore[no-any-return]

    assert {name: last["status"] for name, last in external().items()} == {
        "github": "unknown", "gitlab": "unknown", "kubernetes": "unknown"}
    add(client, auth("user"), kube)
    assert poll(runtime)["status"] == "healthy"
    up = external()["kubernetes"]
    assert up["status"] == "up" and up["response_time_ms"] > 0 and up["checked_at"].endswith("Z")
    kube.fail_with = 503
    assert poll(runtime)["status"] == "unhealthy"
    assert external()["kubernetes"]["status"] == "down" and external()["github"]["status"] == "unknown"
    deep = client.get("/health/deep").get_json()
    assert deep["cache"]["status"] == "up" and 0 <= deep["cache"]["hit_rate"] <= 1
