"""The fake Kubernetes, GitHub and GitLab servers behave like the real APIs (paging, auth, ETags, rate limits)."""
from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import trustme

from tests.support.fake_ci import FakeGitHub, FakeGitLab, github_job, github_run, gitlab_job, gitlab_pipeline
from tests.support.fake_kubernetes import FakeKubernetes, node, pod

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


@pytest.fixture
def kube() -> Iterator[FakeKubernetes]:
    with FakeKubernetes() as server:
        yield server


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


def kget(kube: FakeKubernetes, path: str, **params: Any) -> requests.Response:
    return requests.get(kube.url + path, params=params, headers={"Authorization": f"Bearer {kube.token}"}, timeout=5)


def test_kubernetes_lists_page_with_limit_and_continue(kube: FakeKubernetes) -> None:
    kube.nodes = [node(f"node-{index}") for index in (3, 1, 5, 2, 4)]
    names: list[str] = []
    token: str | None = None
    while True:
        body = kget(kube, "/api/v1/nodes", limit=2, **({"continue": token} if token else {})).json()
        assert body["kind"] == "NodeList" and body["metadata"]["resourceVersion"]
        assert len(body["items"]) <= 2
        names += [item["metadata"]["name"] for item in body["items"]]
        token = body["metadata"].get("continue")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] == 5 - len(names)
    assert names == [f"node-{index}" for index in range(1, 6)]
    assert kube.hits("/api/v1/nodes") == 3


def test_kubernetes_bad_or_expired_continue_is_410(kube: FakeKubernetes) -> None:
    kube.pods = [pod("a"), pod("b"), pod("c", namespace="batch")]
    first = kget(kube, "/api/v1/pods", limit=1).json()
    assert first["items"][0]["metadata"]["namespace"] == "batch"  # sorted by namespace/name
    junk = kget(kube, "/api/v1/pods", limit=1, **{"continue": base64.b64encode(b"junk").decode()})
    assert junk.status_code == 410 and junk.json()["reason"] == "Expired"
    kube.expire_continue_tokens()
    stale = kget(kube, "/api/v1/pods", **{"continue": first["metadata"]["continue"]})
    assert stale.status_code == 410 and stale.json()["kind"] == "Status"


def test_kubernetes_needs_the_bearer_token(kube: FakeKubernetes) -> None:
    missing = requests.get(kube.url + "/api/v1/nodes", timeout=5)
    wrong = requests.get(kube.url + "/version", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert (missing.status_code, missing.json()) == (401, UNAUTHORIZED)
    assert (wrong.status_code, wrong.json()) == (401, UNAUTHORIZED)
    assert kget(kube, "/version").json()["gitVersion"] == "v1.29.2"
    assert kube.requests[0].headers.get("authorization") is None


def test_kubernetes_pods_namespaces_and_metrics(kube: FakeKubernetes) -> None:
    kube.pods = [pod("web-1", containers=2), pod("job-1", namespace="batch", waiting_reason="CrashLoopBackOff",
                                                  restarts=4)]
    kube.node_usage = {"node-1": ("1500m", "8Gi")}
    kube.pod_usage = {("default", "web-1"): [("250m", "300Mi"), ("5m", "20Mi")]}
    batch = kget(kube, "/api/v1/namespaces/batch/pods").json()["items"]
    state = batch[0]["status"]["containerStatuses"][0]
    assert state["state"]["waiting"]["reason"] == "CrashLoopBackOff" and state["restartCount"] == 4
    spaces = [item["metadata"]["name"] for item in kget(kube, "/api/v1/namespaces").json()["items"]]
    assert spaces == ["batch", "default", "kube-system"]
    nodes = kget(kube, "/apis/metrics.k8s.io/v1beta1/nodes").json()
    assert nodes["kind"] == "NodeMetricsList" and nodes["items"][0]["usage"] == {"cpu": "1500m", "memory": "8Gi"}
    pods = kget(kube, "/apis/metrics.k8s.io/v1beta1/pods").json()["items"]
    assert [c["name"] for c in pods[0]["containers"]] == ["app", "sidecar-1"]
    kube.metrics_enabled = False
    gone = kget(kube, "/apis/metrics.k8s.io/v1beta1/nodes")
    assert gone.status_code == 404 and gone.json()["reason"] == "NotFound"


def test_kubernetes_fail_with_https_and_stop(tmp_path: Any) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    kube = FakeKubernetes(ssl_context=context).start()
    assert kube.url.startswith("https://")
    kube.nodes = [node("node-1", ready=None)]
    headers = {"Authorization": f"Bearer {kube.token}"}
    body = requests.get(kube.url + "/api/v1/nodes", headers=headers, verify=str(ca_file), timeout=5).json()
    ready = body["items"][0]["status"]["conditions"][-1]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "Unknown", "NodeStatusUnknown")
    kube.fail_with = 503
    failed = requests.get(kube.url + "/api/v1/nodes", headers=headers, verify=str(ca_file), timeout=5)
    assert failed.status_code == 503 and failed.json()["reason"] == "ServiceUnavailable"
    kube.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(kube.url + "/version", headers=headers, verify=str(ca_file), timeout=5)


def gh(github: FakeGitHub, path: str, headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
    auth = {"Authorization": f"Bearer {github.token}", "Accept": "application/vnd.github+json"}
    return requests.get(github.url + path, params=params, headers={**auth, **(headers or {})}, timeout=5)


def test_github_runs_page_newest_first_with_link(github: FakeGitHub) -> None:
    github.runs["octo-org/octo-repo"] = [github_run(run_id, created_at=f"2026-01-0{run_id}T00:00:00Z")
                                         for run_id in range(1, 6)]
    first = gh(github, "/repos/octo-org/octo-repo/actions/runs", per_page=2)
    assert first.json()["total_count"] == 5
    assert [run["id"] for run in first.json()["workflow_runs"]] == [5, 4]
    assert first.links["next"]["url"].endswith("per_page=2&page=2") and first.links["last"]["url"].endswith("page=3")
    third = requests.get(first.links["last"]["url"], headers={"Authorization": f"token {github.token}"}, timeout=5)
    assert [run["id"] for run in third.json()["workflow_runs"]] == [1] and "next" not in third.links
    assert third.headers["X-RateLimit-Resource"] == "core" and third.headers["X-RateLimit-Used"] == "2"


def test_github_jobs_auth_and_not_found(github: FakeGitHub) -> None:
    github.runs["octo-org/octo-repo"] = [github_run(10)]
    github.jobs[10] = [github_job(101, 10), FakeGitHub.job(102, 10, name="lint", conclusion="failure")]
    jobs = gh(github, "/repos/Octo-Org/octo-repo/actions/runs/10/jobs").json()
    assert jobs["total_count"] == 2 and jobs["jobs"][1]["conclusion"] == "failure"
    assert jobs["jobs"][0]["head_sha"] == github.runs["octo-org/octo-repo"][0]["head_sha"]
    bad = requests.get(github.url + "/repos/octo-org/octo-repo/actions/runs", timeout=5)
    assert (bad.status_code, bad.json()["message"]) == (401, "Bad credentials")
    missing = gh(github, "/repos/octo-org/nope/actions/runs")
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")


def test_github_etag_304_does_not_cost_rate_limit(github: FakeGitHub) -> None:
    github.runs["octo-org/octo-repo"] = [github_run(1)]
    first = gh(github, "/repos/octo-org/octo-repo/actions/runs")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.headers["X-RateLimit-Remaining"] == "4999"
    again = gh(github, "/repos/octo-org/octo-repo/actions/runs", headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["X-RateLimit-Remaining"]) == (304, b"", "4999")
    github.runs["octo-org/octo-repo"].insert(0, github_run(2, created_at="2026-01-02T00:00:00Z"))
    changed = gh(github, "/repos/octo-org/octo-repo/actions/runs", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert github.not_modified() == 1 and github.hits("/repos/octo-org") == 3


def test_github_rate_limit_403_and_retry_after_429(github: FakeGitHub) -> None:
    github.runs["octo-org/octo-repo"] = []
    github.rate_remaining = 0
    limited = gh(github, "/repos/octo-org/octo-repo/actions/runs")
    assert limited.status_code == 403 and limited.json()["message"].startswith("API rate limit exceeded")
    assert limited.headers["X-RateLimit-Remaining"] == "0" and int(limited.headers["X-RateLimit-Reset"]) > 0
    github.rate_remaining, github.retry_after, github.retry_after_times = 10, 7, 1
    throttled = gh(github, "/repos/octo-org/octo-repo/actions/runs")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    assert gh(github, "/repos/octo-org/octo-repo/actions/runs").status_code == 200


def gl(gitlab: FakeGitLab, path: str, headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
    auth = {"PRIVATE-TOKEN": gitlab.token, **(headers or {})}
    return requests.get(gitlab.url + path, params=params, headers=auth, timeout=5)


def test_gitlab_encoded_project_path_and_paging(gitlab: FakeGitLab) -> None:
    gitlab.projects["group/project"] = 7
    gitlab.pipelines[7] = [gitlab_pipeline(pipeline_id, project_id=7) for pipeline_id in range(501, 506)]
    page = gl(gitlab, "/api/v4/projects/group%2Fproject/pipelines", per_page=2, page=2)
    assert [item["id"] for item in page.json()] == [503, 502]
    assert "duration" not in page.json()[0] and page.json()[0]["web_url"].endswith("/-/pipelines/503")
    headers = page.headers
    assert (headers["X-Page"], headers["X-Total"], headers["X-Total-Pages"]) == ("2", "5", "3")
    assert (headers["X-Next-Page"], headers["X-Prev-Page"]) == ("3", "1")
    assert "/projects/group%2Fproject/pipelines?" in page.links["next"]["url"]
    assert gl(gitlab, "/api/v4/projects/7/pipelines").headers["X-Next-Page"] == ""
    assert gl(gitlab, "/api/v4/projects/group/project/pipelines").status_code == 404
    assert gitlab.requests[0].path == "/api/v4/projects/group/project/pipelines"
    assert gitlab.hits("/api/v4/projects/group%2Fproject") == 1


def test_gitlab_pipeline_detail_jobs_and_auth(gitlab: FakeGitLab) -> None:
    gitlab.pipelines[7] = [gitlab_pipeline(501, project_id=7, status="failed")]
    gitlab.jobs[501] = [gitlab_job(9001, 501, project_id=7), gitlab_job(9002, 501, project_id=7, status="failed")]
    detail = gl(gitlab, "/api/v4/projects/7/pipelines/501").json()
    assert detail["duration"] == 120 and detail["detailed_status"]["group"] == "failed"
    jobs = gl(gitlab, "/api/v4/projects/7/pipelines/501/jobs", headers={}, **{"scope[]": "failed"}).json()
    assert [job["id"] for job in jobs] == [9002] and jobs[0]["failure_reason"] == "script_failure"
    assert jobs[0]["commit"]["id"] == detail["sha"] and jobs[0]["pipeline"]["id"] == 501
    bearer = requests.get(gitlab.url + "/api/v4/projects/7/pipelines/501",
                          headers={"Authorization": f"Bearer {gitlab.token}"}, timeout=5)
    assert bearer.status_code == 200
    anonymous = requests.get(gitlab.url + "/api/v4/projects/7/pipelines", timeout=5)
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "401 Unauthorized"})
    assert gl(gitlab, "/api/v4/projects/7/pipelines/999").status_code == 404


def test_gitlab_etag_and_rate_limits(gitlab: FakeGitLab) -> None:
    gitlab.pipelines[7] = [gitlab_pipeline(501, project_id=7)]
    first = gl(gitlab, "/api/v4/projects/7/pipelines")
    again = gl(gitlab, "/api/v4/projects/7/pipelines", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.headers["RateLimit-Remaining"] == first.headers["RateLimit-Remaining"]
    assert gitlab.not_modified("/api/v4/projects/7") == 1
    gitlab.retry_after = 3
    throttled = gl(gitlab, "/api/v4/projects/7/pipelines")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")
    gitlab.retry_after, gitlab.rate_remaining = None, 0
    exhausted = gl(gitlab, "/api/v4/projects/7/pipelines")
    assert exhausted.status_code == 429 and int(exhausted.headers["Retry-After"]) >= 1
    assert exhausted.headers["RateLimit-Remaining"] == "0" and exhausted.headers["RateLimit-Observed"] == "2000"
