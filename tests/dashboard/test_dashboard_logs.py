"""A build's log in the dashboard when its progress stream no longer holds all of it: the lines the stream lost
(capped, or expired) come from the stored log, in order, each once."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from core import streams
from tests.dashboard.browser import Api, Page, expect, log_in
from tests.support.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
STEPS = [{"name": f"step-{i}", "run": f"echo line-{i}"} for i in range(1, 5)]
WHOLE_LOG = "\n\n".join(f"── step-{i} ──\nline-{i}" for i in range(1, 5))


def finished_build(api: Api, repo: Path) -> str:
    api.project("logged", repo, STEPS)
    task_id = api.build("logged")
    wait_for(lambda: api.get(f"/builds/{task_id}")["status"] == "completed", timeout=60, what="the build to finish")
    return task_id


def shown_log(page: Page, task_id: str) -> str:
    page.locator(f'table#builds a.status[data-task-id="{task_id}"]').click()
    lines = page.locator("pre#log-lines")
    expect(lines).to_contain_text("line-4")
    page.wait_for_timeout(500)  # anything late (a duplicate) would land by now
    return str(lines.text_content()).strip()


def test_a_capped_stream_is_filled_in_from_the_stored_log(
        page: Page, shot: Callable[[str], None], api_server: str, worker: Any, repo: Path,
        redis_client: redis.Redis) -> None:
    api = Api(api_server, "historian")
    task_id = finished_build(api, repo)
    key = streams.stream_key(task_id)
    types = [fields["event"] for _, fields in redis_client.xrange(key)]
    assert sum('"type": "log"' in t for t in types) >= 4, types  # one log event per step at least
    redis_client.xtrim(key, maxlen=2, approximate=False)  # the last log event and the completion are left

    log_in(page, "historian")
    assert shown_log(page, task_id) == WHOLE_LOG
    shot("capped")

    redis_client.delete(key)  # expired altogether: everything from the stored log
    page.locator("#close-log").click()
    assert shown_log(page, task_id) == WHOLE_LOG
