"""A project's `repo_url` is a URL a worker connects to, so it gets the SSRF guard too (workers/checkout.py):
internal literals refused by the API, every address a name resolves to checked by the worker before each
clone, an http(s) clone held to the checked address without following redirects, and local paths only with
REPO_ALLOW_LOCAL (off in production)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from domain.builds.checkout import CheckoutError, SourcePolicy, check_source, checkout
from models.db import db
from models.project import Project
from models.user import User
from tests.security.test_ssrf import INTERNAL, Rebinding, serving
from tests.security.world import PUBLIC_IP
from tests.support.envelope import assert_envelope
from tests.support.processes import wait_for

STRICT = SourcePolicy(allow_private=False, allow_local=False)
# What the API can refuse without asking DNS: IP literals and localhost, in every transport git speaks.
LITERALS = ["http://127.0.0.1/r.git", "https://10.0.0.1/r.git", "http://localhost:8080/r.git",
            "http://[::1]/r.git", "ssh://git@169.254.169.254/r.git", "git://192.168.1.1/r.git",
            "git@172.16.0.1:org/r.git", "git@localhost:org/r.git", "ssh://git@[fd00::1]:2222/r.git",
            "https://token@github.com/org/r.git", "https://github.com\\@127.0.0.1/r.git"]


def body(repo_url: str) -> dict[str, Any]:
    return {"name": "guarded", "repo_url": repo_url, "build_steps": [{"name": "s", "run": "true"}]}


@pytest.mark.parametrize("repo_url", LITERALS)
def test_internal_repository_urls_are_refused_on_create_and_update(
        client: FlaskClient, auth: Any, repo_url: str) -> None:
    user = auth("user")
    response = client.post("/api/v1/projects", headers=user, json=body(repo_url))
    assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "repo_url" in response.get_json()["error"]["details"]
    assert client.post("/api/v1/projects", headers=user, json=body("https://example.com/r.git")).status_code == 201
    update = client.put("/api/v1/projects/guarded", headers=user, json={"repo_url": repo_url})
    assert_envelope(update, 422, "VALIDATION_ERROR")
    assert client.get("/api/v1/projects/guarded", headers=user).get_json()["repo_url"] == "https://example.com/r.git"


def test_private_git_servers_and_local_paths_follow_their_settings(make_app: Any, auth: Any) -> None:
    strict = make_app(REPO_ALLOW_LOCAL="false").test_client()
    user = auth("user")
    for local in ("/srv/git/demo", "file:///srv/git/demo"):
        assert_envelope(strict.post("/api/v1/projects", headers=user, json=body(local)), 422, "VALIDATION_ERROR")
    internal = make_app(REPO_ALLOW_PRIVATE="true").test_client()
    assert internal.post("/api/v1/projects", headers=user, json=body("https://10.0.0.1/r.git")).status_code == 201


def test_the_worker_checks_every_address_of_a_name_and_every_spelling() -> None:
    for answers in (["10.0.0.7"], [PUBLIC_IP, "127.0.0.1"], ["::ffff:169.254.169.254"]):
        with pytest.raises(CheckoutError, match="refused"):
            check_source("https://git.rebind.test/org/r.git", STRICT, Rebinding(answers, answers))
    for url in INTERNAL:  # the system resolver reads every numeric spelling (and /etc/hosts): no DNS asked
        with pytest.raises(CheckoutError):
            check_source(url.rstrip("/") + "/r.git", STRICT)
    source = check_source("https://git.example.test/r.git", STRICT, Rebinding([PUBLIC_IP], []))
    assert source.addresses == (PUBLIC_IP,)
    with pytest.raises(CheckoutError, match="REPO_ALLOW_LOCAL"):
        check_source("/srv/git/demo", STRICT)


def test_an_http_clone_connects_to_the_checked_address_only(tmp_path: Path) -> None:
    """127.0.0.1 when checked, ::1 after (DNS rebinding): git's requests all reach 127.0.0.1, and the name
    is resolved once. The name is not in DNS at all, so without the pin git could not connect anywhere."""
    with serving("127.0.0.1") as checked, serving("::1", checked.server_address[1]) as rebound:
        stub = Rebinding(["127.0.0.1"], ["::1"])
        url = f"http://git.rebind.test:{checked.server_address[1]}/org/r.git"
        with pytest.raises(CheckoutError):  # the server is no git server: what matters is where git went
            checkout(url, "main", tmp_path / "src", tmp_path, SourcePolicy(allow_private=True), resolver=stub)
    assert checked.hits >= 1 and rebound.hits == 0 and stub.asked == 1


def test_an_http_clone_does_not_follow_a_redirect(tmp_path: Path) -> None:
    with serving("127.0.0.1") as internal:
        with serving("127.0.0.1", location=f"http://127.0.0.1:{internal.server_address[1]}/") as server:
            url = f"http://127.0.0.1:{server.server_address[1]}/redirect/r.git"
            with pytest.raises(CheckoutError):
                checkout(url, "main", tmp_path / "src", tmp_path, SourcePolicy(allow_private=True))
            assert server.hits >= 1
        assert internal.hits == 0


def test_a_stored_project_on_an_internal_address_fails_at_checkout(
        client: FlaskClient, auth: Any, worker: Any) -> None:
    """A row the API would refuse today (stored before the check, or by hand): the worker refuses it too."""
    user = auth("user")
    with db.connection_context():
        Project.create(name="old-internal", repo_url="http://169.254.169.254/latest/meta-data.git",
                       build_steps=[{"name": "s", "run": "true"}], env={},
                       created_by=User.get(User.username == "user-user"))
    task_id = client.post("/api/v1/builds", headers=user, json={"project_name": "old-internal"}).get_json()["task_id"]
    build = wait_for(lambda: (b := client.get(f"/api/v1/builds/{task_id}", headers=user).get_json())["status"]
                     in ("completed", "failed") and b, timeout=60, what="the build")
    assert build["status"] == "failed" and "checkout failed: refused" in build["error"], build


def test_pins_bracket_ipv6_and_skip_ip_literal_hosts() -> None:
    both = check_source("https://git.example.test:8443/r.git", STRICT, Rebinding([PUBLIC_IP, "2606:2800:220:1::"], []))
    assert both.pins() == ["-c", "http.followRedirects=false", "-c",
                           f"http.curloptResolve=git.example.test:8443:[2606:2800:220:1::],{PUBLIC_IP}"]
    literal = check_source(f"https://{PUBLIC_IP}/r.git", STRICT)
    assert literal.pins() == ["-c", "http.followRedirects=false"]
    assert check_source("ssh://git@git.example.test/r.git", STRICT, Rebinding([PUBLIC_IP], [])).pins() == []
