"""Kubernetes clusters through the API: validation, the SSRF guard, the token and CA certificate never shown,
updates, the last poll's nodes and pods, ownership (BOLA) and admins naming another user's cluster.
Snapshots are seeded directly."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import trustme
from flask.testing import FlaskClient

from models.cluster import Cluster, ClusterNode, ClusterPod
from models.db import db
from tests.support.envelope import assert_envelope
from tests.support.polling import CLUSTERS, DROP, PUBLIC, TOKEN, add_cluster, assert_not_found, listed

CLUSTER_FIELDS = {"id", "name", "api_url", "verify_ssl", "has_ca_cert", "poll_interval_seconds", "version", "status",
                  "last_error", "nodes", "pods", "namespaces", "metrics_available", "last_polled_at", "next_poll_at",
                  "created_at"}


def seed_snapshot(cluster_id: int) -> None:
    with db.connection_context():
        for name, status in (("node-b", "NotReady"), ("node-a", "Ready")):
            ClusterNode.create(cluster=cluster_id, name=name, status=status, cpu_usage=41.5, memory_usage=None,
                               pods=2, kubelet_version="v1.30.1", created_at=datetime(2026, 1, 1))
        for namespace, name, status in (("kube-system", "coredns", "Running"), ("default", "web-2", "CrashLoopBackOff"),
                                        ("default", "web-1", "Running"), ("default", "job", "Succeeded")):
            ClusterPod.create(cluster=cluster_id, namespace=namespace, name=name, status=status,
                              phase="Pending" if status == "CrashLoopBackOff" else status, ready=status == "Running",
                              restarts=7 if status == "CrashLoopBackOff" else 0, node_name="node-a", cpu_usage=12.0)


def test_a_cluster_is_created_with_defaults_and_its_token_is_never_shown(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    response = add_cluster(client, user)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == CLUSTER_FIELDS
    assert (body["name"], body["api_url"], body["verify_ssl"], body["poll_interval_seconds"], body["status"],
            body["has_ca_cert"], body["nodes"], body["last_polled_at"]) == ("prod", PUBLIC, True, 30, "unknown", False,
                                                                            0, None)
    assert body["created_at"].endswith("Z") and body["next_poll_at"].endswith("Z")
    responses = [response, client.get(f"{CLUSTERS}/prod", headers=user), client.get(CLUSTERS, headers=user),
                 client.patch(f"{CLUSTERS}/prod", headers=user, json={"token": TOKEN + "-new"})]
    for shown in responses:
        assert shown.status_code in (200, 201)
        assert TOKEN not in shown.get_data(as_text=True) and '"token"' not in shown.get_data(as_text=True)
    assert listed(client, CLUSTERS, user)["items"][0]["id"] == body["id"]
    assert_envelope(add_cluster(client, user), 409, "CONFLICT")  # names are unique per owner, not across owners
    assert add_cluster(client, auth("user", username="bob")).status_code == 201
    assert listed(client, CLUSTERS, user)["total"] == 1


def test_a_ca_certificate_is_accepted_and_never_shown(client: FlaskClient, auth: Any) -> None:
    user, pem = auth("user"), trustme.CA().cert_pem.bytes().decode()
    response = add_cluster(client, user, ca_cert=pem, verify_ssl=False, poll_interval_seconds=10)
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["has_ca_cert"], response.get_json()["verify_ssl"]) == (True, False)
    for shown in (response, client.get(f"{CLUSTERS}/prod", headers=user), client.get(CLUSTERS, headers=user)):
        assert "BEGIN CERTIFICATE" not in shown.get_data(as_text=True) and "ca_cert" not in shown.get_json()


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "Prod"}, "name"), ({"name": "a" * 64}, "name"), ({"name": "-prod"}, "name"), ({"name": "prod-"}, "name"),
    ({"name": "prod\n"}, "name"), ({"name": DROP}, "name"), ({"api_url": "not a url"}, "api_url"),
    ({"api_url": "ftp://93.184.216.34/"}, "api_url"), ({"token": DROP}, "token"), ({"token": ""}, "token"),
    ({"poll_interval_seconds": 9}, "poll_interval_seconds"), ({"ca_cert": "not a certificate"}, "ca_cert"),
    ({"ca_cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "ca_cert"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_clusters_are_422_and_nothing_is_created(
        client: FlaskClient, auth: Any, body: dict[str, Any], field: str) -> None:
    user = auth("user")
    assert field in assert_envelope(add_cluster(client, user, **body), 422, "VALIDATION_ERROR")["error"]["details"]
    assert listed(client, CLUSTERS, user)["total"] == 0
    with db.connection_context():
        assert Cluster.select().count() == 0


@pytest.mark.parametrize("url", ["https://127.0.0.1:6443", "http://10.0.0.1", "http://169.254.169.254"])
def test_internal_api_urls_are_refused(client: FlaskClient, auth: Any, url: str) -> None:
    user = auth("user")
    error = assert_envelope(add_cluster(client, user, api_url=url), 422, "VALIDATION_ERROR")["error"]
    assert "Refused" in error["details"]["api_url"][0]
    assert listed(client, CLUSTERS, user)["total"] == 0


def test_poll_allow_private_lets_a_local_cluster_in(make_app: Any, auth: Any) -> None:
    local = make_app(POLL_ALLOW_PRIVATE="true").test_client()
    response = add_cluster(local, auth("user"), api_url="https://127.0.0.1:6443")
    assert response.status_code == 201, response.get_json()


def test_a_cluster_is_updated_and_deleted(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    add_cluster(client, user)
    before = client.get(f"{CLUSTERS}/prod", headers=user).get_json()
    for bad in ({"poll_interval_seconds": 5}, {"api_url": "http://10.0.0.1"}, {"name": "other"}, {"ca_cert": "x"},
                {"verify_ssl": "maybe"}):
        assert_envelope(client.patch(f"{CLUSTERS}/prod", headers=user, json=bad), 422, "VALIDATION_ERROR")
    assert client.get(f"{CLUSTERS}/prod", headers=user).get_json() == before
    changed = client.patch(f"{CLUSTERS}/prod", headers=user, json={
        "api_url": "https://93.184.216.35", "verify_ssl": False, "poll_interval_seconds": 120,
        "ca_cert": trustme.CA().cert_pem.bytes().decode()})
    assert changed.status_code == 200, changed.get_json()
    assert [changed.get_json()[key] for key in ("api_url", "verify_ssl", "poll_interval_seconds", "has_ca_cert")
            ] == ["https://93.184.216.35", False, 120, True]
    assert client.patch(f"{CLUSTERS}/prod", headers=user, json={"ca_cert": None}).get_json()["has_ca_cert"] is False
    response = client.delete(f"{CLUSTERS}/prod", headers=user)
    assert response.status_code == 204 and response.get_data() == b""
    assert_envelope(client.get(f"{CLUSTERS}/prod", headers=user), 404, "NOT_FOUND")
    assert_envelope(client.delete(f"{CLUSTERS}/prod", headers=user), 404, "NOT_FOUND")
    assert listed(client, CLUSTERS, user)["total"] == 0


def test_nodes_and_pods_of_the_last_poll_and_poll_now(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    seed_snapshot(add_cluster(client, user).get_json()["id"])
    nodes = listed(client, f"{CLUSTERS}/prod/nodes", user)
    assert [node["name"] for node in nodes["items"]] == ["node-a", "node-b"] and nodes["total"] == 2
    assert nodes["items"][0] == {"name": "node-a", "status": "Ready", "cpu_usage": 41.5, "memory_usage": None,
                                 "pods": 2, "kubelet_version": "v1.30.1", "created_at": "2026-01-01T00:00:00.000Z"}
    pods = f"{CLUSTERS}/prod/pods"
    everything = listed(client, pods, user)
    assert [(p["namespace"], p["name"]) for p in everything["items"]] == [
        ("default", "job"), ("default", "web-1"), ("default", "web-2"), ("kube-system", "coredns")]
    assert (everything["total"], everything["offset"]) == (4, 0)
    crashing = everything["items"][2]
    assert (crashing["status"], crashing["phase"], crashing["ready"], crashing["restarts"], crashing["node"]) == (
        "CrashLoopBackOff", "Pending", False, 7, "node-a")
    assert [p["name"] for p in listed(client, pods, user, namespace="default")["items"]] == ["job", "web-1", "web-2"]
    assert [p["name"] for p in listed(client, pods, user, status="Running")["items"]] == ["web-1", "coredns"]
    assert [p["name"] for p in listed(client, pods, user, namespace="default", status="Running")["items"]] == ["web-1"]
    assert listed(client, pods, user, namespace="nowhere")["items"] == []
    page = listed(client, pods, user, limit=1, offset=1)
    assert ([p["name"] for p in page["items"]], page["total"], page["limit"], page["offset"]) == (["web-1"], 4, 1, 1)
    for query in ({"limit": 0}, {"offset": -1}, {"status": ""}):
        assert_envelope(client.get(pods, headers=user, query_string=query), 422, "VALIDATION_ERROR")
    assert_envelope(client.get(f"{CLUSTERS}/nowhere/pods", headers=user), 404, "NOT_FOUND")
    response = client.post(f"{CLUSTERS}/prod/poll", headers=user)  # queued for a worker (none runs here)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["status"] == "queued" and response.get_json()["message_id"]
    assert_envelope(client.post(f"{CLUSTERS}/nowhere/poll", headers=user), 404, "NOT_FOUND")


def test_another_users_cluster_is_404_and_admins_list_all(client: FlaskClient, auth: Any) -> None:
    owner, other, admin = auth("user"), auth("user", username="mallory"), auth("admin")
    add_cluster(client, owner, name="alpha")
    seed_snapshot(client.get(f"{CLUSTERS}/alpha", headers=owner).get_json()["id"])
    add_cluster(client, other, name="beta")
    assert_not_found(client, other, f"{CLUSTERS}/alpha", ("get", "/nodes"), ("get", "/pods"))
    assert client.get(f"{CLUSTERS}/alpha", headers=owner).get_json()["poll_interval_seconds"] == 30
    assert [item["name"] for item in listed(client, CLUSTERS, owner)["items"]] == ["alpha"]
    assert [item["name"] for item in listed(client, CLUSTERS, other)["items"]] == ["beta"]
    assert [item["name"] for item in listed(client, CLUSTERS, admin)["items"]] == ["beta", "alpha"]
    assert listed(client, f"{CLUSTERS}/alpha/pods", admin)["total"] == 4


def test_an_admin_names_another_users_cluster_unambiguously(client: FlaskClient, auth: Any) -> None:
    alice, bob, admin = auth("user", username="alice"), auth("user", username="bob"), auth("admin")
    ids = {}
    for who, headers in (("alice", alice), ("bob", bob)):
        ids[who] = add_cluster(client, headers, name="prod").get_json()["id"]
    add_cluster(client, alice, name="solo")
    assert client.get(f"{CLUSTERS}/solo", headers=admin).status_code == 200  # the only one so named
    ambiguous = assert_envelope(client.get(f"{CLUSTERS}/prod", headers=admin), 409, "CONFLICT")
    assert "alice, bob" in ambiguous["error"]["message"]
    for who in ("alice", "bob"):
        assert client.get(f"{CLUSTERS}/prod?owner={who}", headers=admin).get_json()["id"] == ids[who]
    assert_envelope(client.get(f"{CLUSTERS}/prod?owner=nobody", headers=admin), 404, "NOT_FOUND")
    assert client.delete(f"{CLUSTERS}/prod?owner=bob", headers=admin).status_code == 204
    assert client.get(f"{CLUSTERS}/prod", headers=admin).get_json()["id"] == ids["alice"]
    mine = add_cluster(client, admin, name="prod").get_json()["id"]
    assert client.get(f"{CLUSTERS}/prod", headers=admin).get_json()["id"] == mine  # an admin's own comes first
    assert client.get(f"{CLUSTERS}/prod?owner=bob", headers=bob).status_code == 404  # owner= is for admins
