"""Platform events reach webhooks: a build's events go to its owner's endpoints and admins', no one else's."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.test_builds import make_project, start_build, wait_final
from tests.domain.webhooks.test_delivery import endpoint
from tests.support.processes import wait_for
from tests.support.receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.local_receivers]


def events_seen(requests: list[Any]) -> list[tuple[str, str]]:
    return sorted((body["event"], body["data"]["task_id"]) for body in (json.loads(r.body) for r in requests))


def test_build_events_go_to_the_owner_and_admins_only(
        client: FlaskClient, auth: Any, repo: Path, worker: Any) -> None:
    owner, stranger, admin = auth("user", "owner"), auth("user", "stranger"), auth("admin")
    with receiving([200]) as mine, receiving([200]) as theirs, receiving([200]) as admins, \
            receiving([200]) as deploys:
        endpoint(client, owner, mine.url, events=["build.*"])
        endpoint(client, owner, deploys.url, events=["deployment.*"])
        endpoint(client, stranger, theirs.url)
        endpoint(client, admin, admins.url, events=["*"])
        make_project(client, owner, repo, [{"name": "hello", "run": "echo hello"}])
        task_id = start_build(client, owner)
        assert wait_final(client, owner, task_id)["status"] == "completed"
        wait_for(lambda: mine.count() == 2 and admins.count() == 2, timeout=30, what="both build events")

    expected = [("build.completed", task_id), ("build.started", task_id)]
    assert events_seen(mine.requests) == expected and events_seen(admins.requests) == expected
    assert theirs.count() == 0 and deploys.count() == 0
    completed = next(json.loads(r.body) for r in mine.requests if b"build.completed" in r.body)
    assert completed["data"]["status"] == "completed" and completed["data"]["project_name"] == "demo"
