"""Projects CRUD through the API: shape, validation, ownership and authentication (no worker needed)."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.envelope import assert_envelope

STEPS: list[dict[str, Any]] = [{"name": "test", "run": "pytest -q"}]



def project_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "demo", "repo_url": "https://example.com/org/demo.git", "build_steps": STEPS, **overrides}


def create(client: FlaskClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/projects", headers=headers, json=project_body(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def total(client: FlaskClient, headers: dict[str, str]) -> int:
    response = client.get("/api/v1/projects", headers=headers)
    assert response.status_code == 200
    return int(response.get_json()["total"])


def detail_at(details: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The messages at a nested path of validation details; fails the test when the path is absent."""
    node: Any = details
    for key in path:
        assert isinstance(node, dict) and key in node, f"{path} not in {details}"
        node = node[key]
    return node


# --- create, read, list ------------------------------------------------------------------------------------------


def test_create_answers_201_and_echoes_every_field_with_defaults(client: FlaskClient, auth: Any) -> None:
    user = auth("user", "alice")
    response = client.post("/api/v1/projects", headers=user, json={
        "name": "demo.app_1-x", "repo_url": "git@github.com:org/demo.git",
        "build_steps": [{"name": "unit", "run": "make test"},
                        {"name": "lint", "run": "make lint", "timeout_seconds": 30}],
        "env": {"STAGE": "test", "_PRIVATE1": "x"},
    })
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["name"] == "demo.app_1-x"
    assert body["repo_url"] == "git@github.com:org/demo.git"
    assert body["default_branch"] == "main"
    assert body["build_steps"] == [{"name": "unit", "run": "make test", "timeout_seconds": 600},
                                   {"name": "lint", "run": "make lint", "timeout_seconds": 30}]
    assert body["env"] == {"STAGE": "test", "_PRIVATE1": "x"}
    assert body["created_by"] == "alice"
    assert isinstance(body["id"], int)
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")


def test_create_keeps_an_explicit_default_branch_and_an_absolute_local_path(client: FlaskClient, auth: Any) -> None:
    body = create(client, auth("user"), repo_url="/srv/git/demo", default_branch="release/1.x")
    assert body["repo_url"] == "/srv/git/demo" and body["default_branch"] == "release/1.x"
    assert body["env"] == {}


def test_get_by_name_returns_the_stored_project(client: FlaskClient, auth: Any) -> None:
    user = auth("user", "alice")
    created = create(client, user, env={"A": "1"})
    response = client.get("/api/v1/projects/demo", headers=user)
    assert response.status_code == 200
    assert response.get_json() == created


def test_list_is_an_envelope_newest_first_and_pages(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    for name in ("first", "second", "third"):
        create(client, user, name=name)
    body = client.get("/api/v1/projects", headers=user).get_json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert body["total"] == 3 and body["limit"] == 20 and body["offset"] == 0
    assert [p["name"] for p in body["items"]] == ["third", "second", "first"]

    paged = client.get("/api/v1/projects?limit=1&offset=1", headers=user).get_json()
    assert paged["total"] == 3 and paged["limit"] == 1 and paged["offset"] == 1
    assert [p["name"] for p in paged["items"]] == ["second"]


def test_unknown_project_is_a_404_envelope(client: FlaskClient, auth: Any) -> None:
    body = assert_envelope(client.get("/api/v1/projects/nope", headers=auth("user")), 404, "NOT_FOUND")
    assert "nope" in body["error"]["message"]


def test_a_taken_name_is_409_and_the_first_project_is_unchanged(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    create(client, user)
    response = client.post("/api/v1/projects", headers=user,
                           json=project_body(repo_url="https://example.com/other.git"))
    assert_envelope(response, 409, "CONFLICT")
    assert total(client, user) == 1
    assert client.get("/api/v1/projects/demo", headers=user).get_json()["repo_url"] == \
        "https://example.com/org/demo.git"


# --- validation ---------------------------------------------------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("uppercase name", {"name": "Demo"}, ("name",)),
    ("name with a leading dash", {"name": "-demo"}, ("name",)),
    ("name of 65 characters", {"name": "a" * 65}, ("name",)),
    ("empty name", {"name": ""}, ("name",)),
    ("repo_url starting with a dash", {"repo_url": "--upload-pack=touch /tmp/x"}, ("repo_url",)),
    ("repo_url with whitespace", {"repo_url": "https://example.com/a b.git"}, ("repo_url",)),
    ("relative repo_url", {"repo_url": "repo"}, ("repo_url",)),
    ("ftp repo_url", {"repo_url": "ftp://x"}, ("repo_url",)),
    ("no build steps", {"build_steps": []}, ("build_steps",)),
    ("51 build steps", {"build_steps": [{"name": f"s{i}", "run": "true"} for i in range(51)]}, ("build_steps",)),
    ("a step without run", {"build_steps": [{"name": "x"}]}, ("build_steps", "0", "run")),
    ("a step timeout of 0", {"build_steps": [{"name": "x", "run": "true", "timeout_seconds": 0}]},
     ("build_steps", "0", "timeout_seconds")),
    ("a step timeout of 7201", {"build_steps": [{"name": "x", "run": "true", "timeout_seconds": 7201}]},
     ("build_steps", "0", "timeout_seconds")),
    ("an unknown step field", {"build_steps": [{"name": "x", "run": "true", "shell": "zsh"}]},
     ("build_steps", "0", "shell")),
    ("env key starting with a digit", {"env": {"1BAD": "x"}}, ("env",)),
    ("env key with a space", {"env": {"has space": "x"}}, ("env",)),
    ("env with 101 keys", {"env": {f"K{i}": "v" for i in range(101)}}, ("env",)),
    ("unknown top-level field", {"owner": "someone"}, ("owner",)),
    ("default_branch with ..", {"default_branch": "a..b"}, ("default_branch",)),
]


@pytest.mark.parametrize(("overrides", "path"), [(o, p) for _, o, p in INVALID], ids=[i for i, _, _ in INVALID])
def test_invalid_project_is_422_naming_the_field_and_creates_nothing(
        client: FlaskClient, auth: Any, overrides: dict[str, Any], path: tuple[str, ...]) -> None:
    user = auth("user")
    response = client.post("/api/v1/projects", headers=user, json=project_body(**overrides))
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    messages = detail_at(body["error"]["details"], path)
    assert messages, body
    assert total(client, user) == 0


def test_boundary_values_are_accepted(client: FlaskClient, auth: Any) -> None:
    """The limits the 422 cases sit just past are themselves valid, so those cases test the limit."""
    user = auth("user")
    create(client, user, name="a" * 64,
           build_steps=[{"name": f"s{i}", "run": "true", "timeout_seconds": 7200 if i else 1} for i in range(50)],
           env={f"K{i}": "v" for i in range(100)})
    assert total(client, user) == 1


def test_missing_required_fields_are_all_named(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    body = assert_envelope(client.post("/api/v1/projects", headers=user, json={}), 422, "VALIDATION_ERROR")
    assert {"name", "repo_url", "build_steps"} <= set(body["error"]["details"])
    assert total(client, user) == 0


@pytest.mark.parametrize(("overrides", "path"), [
    ({"name": "demo\n"}, ("name",)),
    ({"default_branch": "main\n"}, ("default_branch",)),
    ({"env": {"KEY\n": "x"}}, ("env",)),
], ids=["name", "default_branch", "env key"])
def test_a_trailing_newline_does_not_slip_past_the_patterns(
        client: FlaskClient, auth: Any, overrides: dict[str, Any], path: tuple[str, ...]) -> None:
    """The contract's `^...$` patterns match the whole value; a newline is not a name, ref or env key character."""
    user = auth("user")
    response = client.post("/api/v1/projects", headers=user, json=project_body(**overrides))
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert detail_at(body["error"]["details"], path)
    assert total(client, user) == 0


def test_malformed_json_is_400_and_creates_nothing(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    response = client.post("/api/v1/projects", headers=user, data='{"name": "demo",',
                           content_type="application/json")
    assert_envelope(response, 400, "BAD_REQUEST")
    assert total(client, user) == 0


# --- permissions --------------------------------------------------------------------------------------------------


def test_viewer_reads_projects_but_cannot_create(client: FlaskClient, auth: Any) -> None:
    create(client, auth("user"))
    viewer = auth("viewer")
    assert client.get("/api/v1/projects", headers=viewer).status_code == 200
    assert client.get("/api/v1/projects/demo", headers=viewer).status_code == 200
    response = client.post("/api/v1/projects", headers=viewer, json=project_body(name="other"))
    assert_envelope(response, 403, "FORBIDDEN")
    assert total(client, viewer) == 1


def test_viewer_cannot_change_or_delete_a_project(client: FlaskClient, auth: Any) -> None:
    create(client, auth("user"))
    viewer = auth("viewer")
    assert_envelope(client.put("/api/v1/projects/demo", headers=viewer, json={"default_branch": "dev"}),
                    403, "FORBIDDEN")
    assert_envelope(client.delete("/api/v1/projects/demo", headers=viewer), 403, "FORBIDDEN")
    assert client.get("/api/v1/projects/demo", headers=viewer).get_json()["default_branch"] == "main"


def test_another_user_cannot_change_or_delete_a_project(client: FlaskClient, auth: Any) -> None:
    owner, other = auth("user", "alice"), auth("user", "bob")
    create(client, owner)
    assert_envelope(client.put("/api/v1/projects/demo", headers=other, json={"default_branch": "evil"}),
                    403, "FORBIDDEN")
    assert_envelope(client.delete("/api/v1/projects/demo", headers=other), 403, "FORBIDDEN")
    body = client.get("/api/v1/projects/demo", headers=owner).get_json()
    assert body["default_branch"] == "main" and body["created_by"] == "alice"


def test_an_admin_can_change_and_delete_anyones_project(client: FlaskClient, auth: Any) -> None:
    owner, admin = auth("user", "alice"), auth("admin")
    create(client, owner)
    response = client.put("/api/v1/projects/demo", headers=admin, json={"default_branch": "develop"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["default_branch"] == "develop"
    assert response.get_json()["created_by"] == "alice"
    assert client.delete("/api/v1/projects/demo", headers=admin).status_code == 204
    assert_envelope(client.get("/api/v1/projects/demo", headers=owner), 404, "NOT_FOUND")


def test_the_creator_updates_part_of_a_project_and_the_rest_stays(client: FlaskClient, auth: Any) -> None:
    owner = auth("user", "alice")
    created = create(client, owner, env={"STAGE": "ci"})
    response = client.put("/api/v1/projects/demo", headers=owner, json={
        "default_branch": "develop", "build_steps": [{"name": "build", "run": "make", "timeout_seconds": 60},
                                                     {"name": "check", "run": "make check"}]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["default_branch"] == "develop"
    assert body["build_steps"] == [{"name": "build", "run": "make", "timeout_seconds": 60},
                                   {"name": "check", "run": "make check", "timeout_seconds": 600}]
    for unchanged in ("id", "name", "repo_url", "env", "created_by", "created_at"):
        assert body[unchanged] == created[unchanged], unchanged
    assert body["updated_at"] >= created["updated_at"]
    assert client.get("/api/v1/projects/demo", headers=owner).get_json() == body


def test_an_update_is_validated_like_a_create(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    create(client, owner)
    for patch, field in (({"build_steps": []}, "build_steps"), ({"repo_url": "-oProxyCommand=x"}, "repo_url"),
                         ({"name": "renamed"}, "name")):
        response = client.put("/api/v1/projects/demo", headers=owner, json=patch)
        body = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert field in body["error"]["details"]
    current = client.get("/api/v1/projects/demo", headers=owner).get_json()
    assert current["build_steps"] == [{"name": "test", "run": "pytest -q", "timeout_seconds": 600}]
    assert current["repo_url"] == "https://example.com/org/demo.git"


def test_the_creator_deletes_a_project_and_it_is_gone(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    create(client, owner)
    response = client.delete("/api/v1/projects/demo", headers=owner)
    assert response.status_code == 204 and response.get_data() == b""
    assert_envelope(client.get("/api/v1/projects/demo", headers=owner), 404, "NOT_FOUND")
    assert_envelope(client.delete("/api/v1/projects/demo", headers=owner), 404, "NOT_FOUND")
    assert total(client, owner) == 0


def test_changing_an_unknown_project_is_404(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    assert_envelope(client.put("/api/v1/projects/nope", headers=owner, json={"default_branch": "x"}),
                    404, "NOT_FOUND")
    assert_envelope(client.delete("/api/v1/projects/nope", headers=owner), 404, "NOT_FOUND")


# --- authentication -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/projects"), ("POST", "/api/v1/projects"), ("GET", "/api/v1/projects/demo"),
    ("PUT", "/api/v1/projects/demo"), ("DELETE", "/api/v1/projects/demo"),
])
def test_unauthenticated_requests_are_401(client: FlaskClient, auth: Any, method: str, path: str) -> None:
    user = auth("user")
    create(client, user)
    response = client.open(path, method=method, json=project_body(name="other") if method == "POST" else None)
    assert_envelope(response, 401, "UNAUTHORIZED")
    bad = client.open(path, method=method, headers={"Authorization": "Bearer not-a-token"})
    assert_envelope(bad, 401, "UNAUTHORIZED")
    assert total(client, user) == 1
    assert client.get("/api/v1/projects/demo", headers=user).get_json()["default_branch"] == "main"
