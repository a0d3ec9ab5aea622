"""Kubernetes clusters, CI sources, pipelines and the DORA arguments through the API: validation, the SSRF guard,
tokens never shown, ownership (BOLA) and the list envelope. Snapshots and pipelines are seeded directly."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import trustme
from flask.testing import FlaskClient

from models.cluster import Cluster, ClusterNode, ClusterPod
from models.db import db
from models.pipeline import CISource, Pipeline
from models.user import User
from tests.envelope import assert_envelope

CLUSTERS, SOURCES, PIPELINES = "/api/v1/kubernetes/clusters", "/api/v1/ci/sources", "/api/v1/pipelines"
PUBLIC = "https://93.184.216.34:6443"  # an IP literal: no DNS needed, and public
TOKEN, CI_TOKEN = "kube-token-s3cr3t-0123456789", "ghp_ci-token-s3cr3t-0123456789"
DROP = object()  # a body value meaning "leave this field out"
CLUSTER_FIELDS = {"id", "name", "api_url", "verify_ssl", "has_ca_cert", "poll_interval_seconds", "version", "status",
                  "last_error", "nodes", "pods", "namespaces", "metrics_available", "last_polled_at", "next_poll_at",
                  "created_at"}


def _body(defaults: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in {**defaults, **body}.items() if value is not DROP}


def add_cluster(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post(CLUSTERS, headers=headers, json=_body({"name": "prod", "api_url": PUBLIC, "token": TOKEN}, body))


def add_source(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    defaults = {"provider": "github", "repository": "acme/app", "api_url": PUBLIC, "token": CI_TOKEN}
    return client.post(SOURCES, headers=headers, json=_body(defaults, body))


def listed(client: FlaskClient, url: str, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    response = client.get(url, headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"items", "total", "limit", "offset"} and len(body["items"]) <= body["limit"]
    return body


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


STAGES = [{"name": "build", "status": "success", "duration": 12, "started_at": "2026-01-01T10:00:00Z",
           "finished_at": "2026-01-01T10:00:12Z"}]


def seed_pipelines(owner: str) -> dict[str, int]:
    """external id -> pipeline id: app 1 (main, success), 2 (feature, failed), 3 (main, running), 4 (main, pending,
    not started); lib 5 (main, success)."""
    rows = [("acme/app", "1", "main", "success", datetime(2026, 1, 1, 10)), ("acme/app", "4", "main", "pending", None),
            ("acme/app", "2", "feature", "failed", datetime(2026, 1, 2, 10)), ("acme/lib", "5", "main", "success",
            datetime(2026, 1, 4)), ("acme/app", "3", "main", "running", datetime(2026, 1, 3, 10))]
    with db.connection_context():
        owner_id = User.get(User.username == owner).id
        sources = {repository: CISource.create(owner=owner_id, provider="github", repository=repository,
                                               api_url="https://api.github.com", token=CI_TOKEN)
                   for repository in ("acme/app", "acme/lib")}
        return {external: Pipeline.create(
            source=sources[repository], external_id=external, repository=repository, branch=branch, status=status,
            provider_status=status, started_at=started, workflow="ci.yml", commit_sha=f"abc{external}",
            commit_message=f"change {external}", commit_author="dev", commit_timestamp=datetime(2026, 1, 1, 9),
            stages=STAGES, url=f"https://github.com/{repository}/actions/runs/{external}").id
            for repository, external, branch, status, started in rows}


def assert_not_found(client: FlaskClient, headers: dict[str, str], base: str, *more: tuple[str, str]) -> None:
    """get, patch, delete and poll (and `more` (method, suffix)) of `base` all answer 404."""
    for method, suffix in (("get", ""), ("patch", ""), ("delete", ""), ("post", "/poll"), *more):
        response = getattr(client, method)(base + suffix, headers=headers, json={"poll_interval_seconds": 99})
        assert_envelope(response, 404, "NOT_FOUND")


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


def test_another_users_source_and_pipelines_are_404(client: FlaskClient, auth: Any) -> None:
    owner, other, admin = auth("user"), auth("user", username="mallory"), auth("admin")
    source_id = add_source(client, owner, repository="acme/api").get_json()["id"]
    pipelines = seed_pipelines("user-user")
    assert_not_found(client, other, f"{SOURCES}/{source_id}")
    assert client.get(f"{SOURCES}/{source_id}", headers=owner).get_json()["poll_interval_seconds"] == 60
    assert_envelope(client.get(f"{PIPELINES}/{pipelines['1']}", headers=other), 404, "NOT_FOUND")
    assert listed(client, PIPELINES, other)["total"] == 0 and listed(client, SOURCES, other)["total"] == 0
    assert listed(client, SOURCES, owner)["total"] == 3 and listed(client, SOURCES, admin)["total"] == 3
    assert listed(client, PIPELINES, owner)["total"] == 5 and listed(client, PIPELINES, admin)["total"] == 5
    assert client.get(f"{PIPELINES}/{pipelines['1']}", headers=admin).status_code == 200


def test_viewers_only_read(client: FlaskClient, auth: Any) -> None:
    owner, viewer = auth("user"), auth("viewer")
    add_cluster(client, owner)
    source = f"{SOURCES}/{add_source(client, owner).get_json()['id']}"
    assert_envelope(add_cluster(client, viewer, name="mine"), 403, "FORBIDDEN")
    assert_envelope(add_source(client, viewer, repository="acme/mine"), 403, "FORBIDDEN")
    for base in (f"{CLUSTERS}/prod", source):
        for method, url in (("patch", base), ("delete", base), ("post", f"{base}/poll")):
            assert_envelope(getattr(client, method)(url, headers=viewer, json={}), 403, "FORBIDDEN")
    assert listed(client, CLUSTERS, viewer)["total"] == 0 and listed(client, SOURCES, viewer)["total"] == 0
    assert [client.get(url, headers=owner).status_code for url in (f"{CLUSTERS}/prod", source)] == [200, 200]


@pytest.mark.parametrize(("method", "url"), [
    ("get", CLUSTERS), ("post", CLUSTERS), ("get", f"{CLUSTERS}/prod/pods"), ("post", f"{CLUSTERS}/prod/poll"),
    ("get", SOURCES), ("post", SOURCES), ("get", PIPELINES), ("get", f"{PIPELINES}/1"),
    ("get", "/api/v1/analytics/dora?start_date=2026-01-01&end_date=2026-01-02"),
])
def test_no_token_is_401(client: FlaskClient, method: str, url: str) -> None:
    assert_envelope(getattr(client, method)(url, json={}), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(("provider", "default"), [("github", "https://api.github.com"),
                                                   ("gitlab", "https://gitlab.com")])
def test_the_api_url_defaults_to_the_providers(client: FlaskClient, auth: Any, provider: str, default: str) -> None:
    """Without DNS (the sandbox) the default host cannot resolve and is refused naming it; with DNS it is kept."""
    response = add_source(client, auth("user"), provider=provider, repository="acme/app", api_url=DROP)
    if response.status_code == 201:
        assert response.get_json()["api_url"] == default
    else:
        error = assert_envelope(response, 422, "VALIDATION_ERROR")["error"]
        assert default.removeprefix("https://") in error["details"]["api_url"][0]


@pytest.mark.parametrize(("provider", "repository"), [("github", "acme/app"), ("github", "acme.io/app_2"),
                                                      ("gitlab", "group/sub/project"), ("gitlab", "12345")])
def test_sources_are_created_and_the_token_never_shown(
        client: FlaskClient, auth: Any, provider: str, repository: str) -> None:
    user = auth("user")
    response = add_source(client, user, provider=provider, repository=repository, deploy_workflow="deploy.yml")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["provider"], body["repository"], body["api_url"], body["deploy_workflow"]) == (
        provider, repository, PUBLIC, "deploy.yml")
    assert (body["status"], body["poll_interval_seconds"], body["rate_limited_until"]) == ("unknown", 60, None)
    for shown in (response, client.get(f"{SOURCES}/{body['id']}", headers=user), client.get(SOURCES, headers=user)):
        assert CI_TOKEN not in shown.get_data(as_text=True) and '"token"' not in shown.get_data(as_text=True)
    assert_envelope(add_source(client, user, provider=provider, repository=repository), 409, "CONFLICT")
    assert add_source(client, auth("user", username="bob"), provider=provider, repository=repository).status_code == 201


@pytest.mark.parametrize(("body", "field"), [
    ({"repository": "acme"}, "repository"), ({"repository": "acme/app/extra"}, "repository"),
    ({"provider": "gitlab", "repository": "group/"}, "repository"), ({"provider": "bitbucket"}, "provider"),
    ({"provider": DROP}, "provider"), ({"token": DROP}, "token"), ({"api_url": "ftp://93.184.216.34"}, "api_url"),
    ({"api_url": "http://10.0.0.1"}, "api_url"), ({"poll_interval_seconds": 9}, "poll_interval_seconds"),
    ({"branch": "main"}, "branch"),
])
def test_invalid_sources_are_422_and_nothing_is_created(
        client: FlaskClient, auth: Any, body: dict[str, Any], field: str) -> None:
    user = auth("user")
    assert field in assert_envelope(add_source(client, user, **body), 422, "VALIDATION_ERROR")["error"]["details"]
    assert listed(client, SOURCES, user)["total"] == 0


def test_a_source_is_updated_and_deleted_with_its_pipelines(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    source_id = add_source(client, user).get_json()["id"]
    before = client.get(f"{SOURCES}/{source_id}", headers=user).get_json()
    with db.connection_context():
        CISource.update(etag='"v1"', rate_limited_until=datetime(2030, 1, 1)).where(CISource.id == source_id).execute()
    response = client.patch(f"{SOURCES}/{source_id}", headers=user, json={"token": "ghp_rotated-0123456789"})
    assert response.status_code == 200, response.get_json()
    assert "ghp_rotated" not in response.get_data(as_text=True) and CI_TOKEN not in response.get_data(as_text=True)
    assert response.get_json() == before  # a new identity starts afresh: the back-off is forgotten
    with db.connection_context():
        stored = CISource.get_by_id(source_id)
        assert (stored.token, stored.etag, stored.rate_limited_until) == ("ghp_rotated-0123456789", None, None)
    for bad in ({"poll_interval_seconds": 5}, {"api_url": "http://127.0.0.1"}, {"repository": "x/y"}, {"token": ""}):
        assert_envelope(client.patch(f"{SOURCES}/{source_id}", headers=user, json=bad), 422, "VALIDATION_ERROR")
    changed = client.patch(f"{SOURCES}/{source_id}", headers=user, json={"deploy_workflow": "cd.yml"}).get_json()
    assert changed == {**before, "deploy_workflow": "cd.yml"}
    with db.connection_context():
        Pipeline.create(source=source_id, external_id="9", repository="acme/app", status="success",
                        provider_status="completed")
    assert client.delete(f"{SOURCES}/{source_id}", headers=user).status_code == 204
    assert_envelope(client.get(f"{SOURCES}/{source_id}", headers=user), 404, "NOT_FOUND")
    assert listed(client, PIPELINES, user)["total"] == 0


def test_pipelines_are_listed_newest_first_and_filtered(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    ids = seed_pipelines("user-user")
    every = listed(client, PIPELINES, user)
    assert [item["external_id"] for item in every["items"]] == ["5", "3", "2", "1", "4"]
    assert (every["total"], every["limit"], every["offset"]) == (5, 20, 0)
    assert every["items"][1]["id"] == ids["3"] and every["items"][1]["provider"] == "github"

    def externals(**query: Any) -> list[str]:
        return [item["external_id"] for item in listed(client, PIPELINES, user, **query)["items"]]

    assert externals(repository="acme/app") == ["3", "2", "1", "4"]
    assert externals(repository="acme/app", branch="main") == ["3", "1", "4"]
    assert externals(status="success") == ["5", "1"]
    assert externals(repository="acme/app", branch="main", status="success") == ["1"]
    assert externals(branch="nowhere") == []
    assert externals(limit=2, offset=1) == ["3", "2"]
    for query in ({"status": "done"}, {"status": "SUCCESS"}, {"limit": 0}, {"limit": 101}):
        assert_envelope(client.get(PIPELINES, headers=user, query_string=query), 422, "VALIDATION_ERROR")


def test_one_pipeline_has_its_commit_and_stages(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    ids = seed_pipelines("user-user")
    response = client.get(f"{PIPELINES}/{ids['2']}", headers=user)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["commit"], body["stages"]) == ({"sha": "abc2", "message": "change 2", "author": "dev",
                                                 "timestamp": "2026-01-01T09:00:00.000Z"}, STAGES)
    assert (body["repository"], body["branch"], body["status"], body["workflow"], body["is_deploy"]) == (
        "acme/app", "feature", "failed", "ci.yml", False)
    assert body["started_at"] == "2026-01-02T10:00:00.000Z" and body["url"].endswith("/runs/2")
    assert "stages" not in listed(client, PIPELINES, user)["items"][0]
    assert_envelope(client.get(f"{PIPELINES}/{max(ids.values()) + 1000}", headers=user), 404, "NOT_FOUND")


@pytest.mark.parametrize(("query", "field"), [
    ({"end_date": "2026-11-07"}, "start_date"), ({"start_date": "2026-11-01"}, "end_date"),
    ({"start_date": "2026-11-07", "end_date": "2026-11-01"}, "end_date"),
    ({"start_date": "2026-11-01", "end_date": "2026-11-07", "granularity": "hourly"}, "granularity"),
    ({"start_date": "2024-01-01", "end_date": "2026-01-02"}, "end_date"),
    ({"start_date": "yesterday", "end_date": "2026-11-07"}, "start_date"),
])
def test_dora_arguments_are_checked(client: FlaskClient, auth: Any, query: dict[str, str], field: str) -> None:
    response = client.get("/api/v1/analytics/dora", headers=auth("user"), query_string=query)
    assert field in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]


def test_dora_without_history_is_all_zero_and_no_data(client: FlaskClient, auth: Any) -> None:
    exactly_731_days = {"start_date": "2024-01-01", "end_date": "2025-12-31"}  # a bare end date counts its whole day
    assert client.get("/api/v1/analytics/dora", headers=auth("user"), query_string=exactly_731_days).status_code == 200
    response = client.get("/api/v1/analytics/dora", headers=auth("user"),
                          query_string={"start_date": "2026-11-01", "end_date": "2026-11-07"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    none = {"median_hours": None, "p90_hours": None, "previous": None, "samples": 0, "trend": "no_data"}
    assert body["lead_time_for_changes"] == none and body["time_to_restore"] == {**none, "unrestored": 0}
    assert body["change_failure_rate"] == {"failed": 0, "total": 0, "percentage": None, "previous": None,
                                           "trend": "no_data"}
    # frequency is a measurement even with no deploys (0 per day now and before): stable, not no_data
    assert body["deployment_frequency"] == {"value": 0, "unit": "per_day", "deployments": 0, "previous": 0,
                                            "trend": "stable"}
    assert [(p["deployments"], p["failed_deployments"]) for p in body["series"]] == [(0, 0)] * 7


def test_the_openapi_document_lists_the_polling_routes(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in ("/api/v1/kubernetes/clusters", "/api/v1/kubernetes/clusters/{name}/pods", "/api/v1/ci/sources",
                 "/api/v1/pipelines/{pipeline_id}", "/api/v1/analytics/dora"):
        assert path in paths, sorted(paths)
