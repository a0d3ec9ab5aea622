"""One object of every kind the API serves by id or name, made by one user, for the access-control tests.

`ROUTES` says, for every route with a path parameter, whose the object is and which object fills the
parameter; a route it does not name fails the suite (test_access), so a new route gets covered."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from models.activity import PullRequest
from models.alert import Alert
from models.db import db, utc_naive
from models.developer import Developer
from models.pipeline import CISource, Pipeline
from models.quality import QualitySnapshot

PRIVATE = "private"  # the owner's (and admins'): anyone else gets 404, as if it did not exist
SHARED = "shared"  # everyone reads it; only its creator or an admin changes it (403)
ADMIN = "admin"  # admins only (403)
SOCKET = "socket"  # a WebSocket: another user's task closes 4404 (test_access_sockets)
FILES = "files"  # static assets, not objects
SIGNED = "signed"  # no token: the provider's signature with the object's secret, else 401 (test_access)

# rule -> (policy, the kind of object whose id or name goes in the path; kinds joined by + for several)
ROUTES: dict[str, tuple[str, str | None]] = {
    "/api/v1/projects/<string:name>": (SHARED, "project"),
    "/api/v1/builds/<uuid:task_id>": (PRIVATE, "build"),
    "/api/v1/builds/<uuid:task_id>/logs": (PRIVATE, "build"),
    "/api/v1/analyses/<uuid:analysis_id>": (PRIVATE, "analysis"),
    "/api/v1/webhooks/<int:webhook_id>": (PRIVATE, "webhook"),
    "/api/v1/webhooks/<int:webhook_id>/deliveries": (PRIVATE, "webhook"),
    "/api/v1/webhooks/<int:webhook_id>/test": (PRIVATE, "webhook"),
    "/api/v1/webhooks/<int:webhook_id>/rotate-secret": (PRIVATE, "webhook"),
    "/api/v1/deliveries/<delivery_id>/redeliver": (PRIVATE, "delivery"),
    "/api/v1/alert-rules/<int:rule_id>": (SHARED, "rule"),
    "/api/v1/alerts/<int:alert_id>": (PRIVATE, "alert"),
    "/api/v1/alerts/<int:alert_id>/resolve": (PRIVATE, "alert"),
    "/api/v1/alerts/<int:alert_id>/acknowledge": (PRIVATE, "alert"),
    "/api/v1/kubernetes/clusters/<string:name>": (PRIVATE, "cluster"),
    "/api/v1/kubernetes/clusters/<string:name>/nodes": (PRIVATE, "cluster"),
    "/api/v1/kubernetes/clusters/<string:name>/pods": (PRIVATE, "cluster"),
    "/api/v1/kubernetes/clusters/<string:name>/poll": (PRIVATE, "cluster"),
    "/api/v1/ci/sources/<int:source_id>": (PRIVATE, "source"),
    "/api/v1/ci/sources/<int:source_id>/poll": (PRIVATE, "source"),
    "/api/v1/pipelines/<int:pipeline_id>": (PRIVATE, "pipeline"),
    "/api/v1/organizations/<int:organization_id>": (PRIVATE, "organization"),
    "/api/v1/organizations/<int:organization_id>/members": (PRIVATE, "organization"),
    "/api/v1/teams/<int:team_id>": (PRIVATE, "team"),
    "/api/v1/teams/<int:team_id>/members": (PRIVATE, "team"),
    "/api/v1/teams/<int:team_id>/sprints": (PRIVATE, "team"),
    "/api/v1/teams/<int:team_id>/sprints/<string:sprint_id>": (PRIVATE, "team+sprint"),
    "/api/v1/repositories/<int:repository_id>": (PRIVATE, "repository"),
    "/api/v1/repositories/<int:repository_id>/commits": (PRIVATE, "repository"),
    "/api/v1/repositories/<int:repository_id>/pull-requests": (PRIVATE, "repository"),
    "/api/v1/repositories/<int:repository_id>/poll": (PRIVATE, "repository"),
    "/api/v1/repositories/<int:repository_id>/backfill": (PRIVATE, "repository"),
    "/api/v1/repositories/<int:repository_id>/issues": (PRIVATE, "repository"),
    "/api/v1/repositories/<int:repository_id>/quality": (PRIVATE, "repository"),
    "/api/v1/repositories/<int:repository_id>/hooks/github": (SIGNED, "repository"),
    "/api/v1/repositories/<int:repository_id>/hooks/gitlab": (SIGNED, "repository"),
    "/api/v1/developers/<int:developer_id>": (PRIVATE, "developer"),
    "/api/v1/developers/<int:developer_id>/activity": (PRIVATE, "developer"),
    "/api/v1/developers/<int:developer_id>/merge": (PRIVATE, "developer"),
    "/api/v1/developers/<int:developer_id>/split": (PRIVATE, "developer"),
    "/api/v1/analytics/pull-requests/<int:pull_request_id>/timeline": (PRIVATE, "pull_request"),
    "/api/v1/api-keys/<int:key_id>": (PRIVATE, "api_key"),
    "/api/v1/users/<int:user_id>": (ADMIN, "user"),
    "/api/v1/users/<int:user_id>/github": (ADMIN, "user"),
    "/api/v1/admin/jobs/<string:name>/run": (ADMIN, "job"),
    "/api/v1/ws/builds/<task_id>": (SOCKET, "build"),
    "/api/v1/ws/analyses/<task_id>": (SOCKET, "analysis"),
    "/docs/assets/<path:filename>": (FILES, None),
    "/ui/static/<path:filename>": (FILES, None),
}

# Bodies that would really change the object, so that a refusal is the ownership check and not validation.
WRITES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/v1/projects/<string:name>"): {"default_branch": "pwned"},
    ("PUT", "/api/v1/webhooks/<int:webhook_id>"): {"name": "pwned"},
    ("PUT", "/api/v1/alert-rules/<int:rule_id>"): {"threshold": 1e9},
    ("PATCH", "/api/v1/kubernetes/clusters/<string:name>"): {"poll_interval_seconds": 600},
    ("PATCH", "/api/v1/ci/sources/<int:source_id>"): {"poll_interval_seconds": 600},
    ("PUT", "/api/v1/organizations/<int:organization_id>"): {"name": "pwned"},
    ("PUT", "/api/v1/organizations/<int:organization_id>/members"): {"members": [{"user_id": 1, "role": "owner"}]},
    ("PUT", "/api/v1/teams/<int:team_id>"): {"name": "pwned"},
    ("PUT", "/api/v1/teams/<int:team_id>/members"): {"developer_ids": []},
    ("POST", "/api/v1/teams/<int:team_id>/sprints"): {"name": "pwned", "start_date": "2026-01-05",
                                                      "end_date": "2026-01-16"},
    ("PUT", "/api/v1/repositories/<int:repository_id>"): {"name": "pwned"},
    ("PATCH", "/api/v1/api-keys/<int:key_id>"): {"name": "pwned"},
    ("POST", "/api/v1/developers/<int:developer_id>/merge"): {"developer_id": 1},
    ("POST", "/api/v1/developers/<int:developer_id>/split"): {"identity_ids": [1]},
}
PUBLIC_IP = "93.184.216.34"  # a public address: accepted as a target; nothing ever connects to it here


@dataclass
class World:
    """What the owner made: kind -> the value for the path, and the strings only the owner may see."""

    values: dict[str, str] = field(default_factory=dict)
    private_markers: list[str] = field(default_factory=list)

    def path(self, rule: str) -> str:
        """`rule` with its parameters filled by the owner's objects (or a harmless value for static files)."""
        kinds = (ROUTES[rule][1] or "").split("+")  # one kind per parameter, in order
        for kind in kinds:
            start, end = rule.index("<"), rule.index(">")
            rule = rule[:start] + (self.values[kind] if kind else "x") + rule[end + 1:]
        return rule


def _ok(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.path, response.get_json())
    return response.get_json()  # type: ignore[no-any-return]


def build_world(client: FlaskClient, owner: dict[str, str], owner_id: int, tag: str = "alice") -> World:
    """Every kind of object, owned by `owner` (user id `owner_id`), named after `tag`."""
    world = World()
    post = lambda path, body: client.post(path, headers=owner, json=body)  # noqa: E731
    world.values["project"] = f"{tag}-project"
    _ok(post("/api/v1/projects", {"name": f"{tag}-project", "repo_url": "/nonexistent/repo",
                                  "build_steps": [{"name": "s", "run": "true"}]}), 201)
    world.values["build"] = _ok(post("/api/v1/builds", {"project_name": f"{tag}-project"}), 202)["task_id"]
    world.values["analysis"] = _ok(post("/api/v1/analyses", {"project_name": f"{tag}-project"}), 202)["analysis_id"]
    webhook = _ok(post("/api/v1/webhooks", {"name": f"{tag}-hook", "url": f"https://{PUBLIC_IP}/{tag}"}), 201)
    world.values["webhook"] = str(webhook["id"])
    world.values["delivery"] = _ok(post(f"/api/v1/webhooks/{webhook['id']}/test", {}), 202)["delivery_id"]
    rule = _ok(post("/api/v1/alert-rules", {"name": f"{tag}-rule", "metric": "latency", "aggregation": "p95",
                                            "comparison": "gt", "threshold": 100, "window_minutes": 5,
                                            "severity": "CRITICAL"}), 201)
    world.values["rule"] = str(rule["id"])
    _ok(post("/api/v1/kubernetes/clusters", {"name": f"{tag}-cluster", "api_url": f"https://{PUBLIC_IP}:6443",
                                             "token": f"{tag}-cluster-token"}), 201)
    world.values["cluster"] = f"{tag}-cluster"
    source = _ok(post("/api/v1/ci/sources", {"provider": "github", "repository": f"{tag}/private-repo",
                                             "api_url": f"https://{PUBLIC_IP}", "token": f"{tag}-ci-token"}), 201)
    world.values["source"] = str(source["id"])
    with db.connection_context():
        # Made the way the pollers make them: an alert about the owner's cluster, a pipeline of their source.
        alert = Alert.create(rule_name=f"{tag}-pod-restarts", metric="kubernetes.pod_restarts", severity="WARNING",
                             message=f"{tag}-cluster: a pod restarted", owner_id=owner_id, tags={"cluster": tag})
        pipeline = Pipeline.create(source=CISource.get_by_id(source["id"]), external_id=f"{tag}-run-1",
                                   repository=f"{tag}/private-repo", status="completed", provider_status="success",
                                   started_at=utc_naive())
    world.values["alert"], world.values["pipeline"] = str(alert.id), str(pipeline.id)
    world.values["user"], world.values["job"] = str(owner_id), "aggregate_metrics"
    world.values["api_key"] = str(_ok(post("/api/v1/api-keys", {"name": f"{tag}-api-key",
                                                                "scopes": ["build:read"]}), 201)["id"])
    _engineering(world, post, tag)
    world.private_markers = [world.values[k] for k in ("build", "analysis")] + [
        f"{tag}-hook", f"{tag}-cluster", f"{tag}/private-repo", f"{tag}-pod-restarts", f"{tag}-org", f"{tag}-team",
        f"{tag}-sei-repo", f"{tag}-developer", f"{tag}-api-key"]
    return world


def _engineering(world: World, post: Any, tag: str) -> None:
    """An organization with a team, a repository, and a developer (made as ingestion makes one)."""
    org = _ok(post("/api/v1/organizations", {"name": f"{tag}-org"}), 201)
    team = _ok(post("/api/v1/teams", {"organization_id": org["id"], "name": f"{tag}-team"}), 201)
    repo = _ok(post("/api/v1/repositories", {"team_id": team["id"], "provider": "github",
                                             "url": f"https://github.com/{tag}/{tag}-sei-repo",
                                             "api_url": f"https://{PUBLIC_IP}"}), 201)
    sprint = _ok(post(f"/api/v1/teams/{team['id']}/sprints", {"name": f"{tag}-sprint", "start_date": "2026-01-05",
                                                              "end_date": "2026-01-16"}), 201)
    with db.connection_context():
        developer = Developer.create(organization=org["id"], name=f"{tag}-developer")
        pull = PullRequest.create(repository=repo["id"], number=1, title=f"{tag}-pull", state="open",
                                  developer=developer.id, opened_at=utc_naive())
        # A code-quality snapshot: the analytics' per-repository figures name the repository
        QualitySnapshot.create(repository=repo["id"], status="done", commit_sha="0" * 40, code_smells=1)
    world.values.update(organization=str(org["id"]), team=str(team["id"]), repository=str(repo["id"]),
                        developer=str(developer.id), pull_request=str(pull.id), sprint=sprint["sprint_id"])
