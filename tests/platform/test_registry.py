"""Actors are declared without a broker and bound by `workers.setup.configure`: every process's references
follow the broker it built, the Runtime reaches the actor as its first argument, and what the domain sends by
name (an outbox row, a delivery) names an actor that exists."""
from __future__ import annotations

from typing import Any

import pytest
import redis

from core.runtime import Runtime
from core.settings import load_settings
from domain.telemetry import job_states
from domain.webhooks import dispatch
from models.outbox import OutboxMessage
from workers import builds, diagnostics, jobs, webhooks
from workers.registry import Actor, actor
from workers.schedule import JOBS
from workers.setup import configure


@pytest.fixture
def runtime_of(base_env: dict[str, str], schema: None) -> Any:
    def build(**overrides: str) -> Runtime:
        return configure(load_settings({**base_env, **overrides}, env_file=None))
    return build


def test_references_follow_the_broker_of_the_latest_configure(runtime_of: Any) -> None:
    first, second = runtime_of(), runtime_of()
    assert first.broker is not second.broker
    assert builds.run_build.bound.broker is second.broker
    assert second.broker.get_actor("run_build") is builds.run_build.bound
    assert first.broker.get_actor("run_build") is not builds.run_build.bound  # the old broker keeps its own


def test_the_runtime_is_the_actors_first_argument(runtime_of: Any) -> None:
    runtime = runtime_of()
    seen: list[tuple[Runtime, str]] = []

    @actor(queue_name="default", max_retries=0)
    def probe(rt: Runtime, word: str) -> None:
        seen.append((rt, word))

    probe.bind(runtime)
    probe("hello")  # run here, as a worker thread would run the message
    assert seen == [(runtime, "hello")]
    assert probe.actor_name == "probe" and runtime.broker.get_actor("probe") is probe.bound


def test_an_unbound_actor_refuses_to_send() -> None:
    unbound: Actor[[], None] = Actor(lambda rt: None, "default", {})
    with pytest.raises(RuntimeError, match="not bound"):
        unbound.send()


def test_what_the_domain_sends_by_name_names_a_bound_actor(runtime_of: Any) -> None:
    runtime = runtime_of()
    assert runtime.broker.get_actor(dispatch.DELIVER_ACTOR) is webhooks.deliver_webhook.bound
    row = OutboxMessage(actor_name=builds.run_build.actor_name, args=["x"])
    assert runtime.broker.get_actor(row.actor_name) is builds.run_build.bound
    for job in JOBS:
        assert runtime.broker.get_actor(job.actor_name) is job.actor.bound


def test_every_send_of_a_scheduled_job_is_recorded_with_its_trigger(
        runtime_of: Any, redis_client: redis.Redis) -> None:
    runtime_of()
    message = jobs.warm_cache.send_with_options(trigger="by hand, in a test")
    recorded = job_states(redis_client, ["warm_cache"])["warm_cache"]
    assert (recorded["last_trigger"], recorded["last_message_id"]) == ("by hand, in a test", message.message_id)
    assert "next_run_at" not in recorded

    jobs.sweep_outbox.send_with_options(trigger="schedule", next_run=1234.5)
    assert job_states(redis_client, ["sweep_outbox"])["sweep_outbox"]["next_run_at"] == 1234.5

    diagnostics.ping.send("not a job")  # an actor that is no scheduled job leaves no record
    assert job_states(redis_client, ["ping"])["ping"] == {}


def test_a_job_sent_without_a_trigger_is_recorded_as_manual(runtime_of: Any, redis_client: redis.Redis) -> None:
    runtime_of()
    jobs.reap_tasks.send()
    assert job_states(redis_client, ["reap_tasks"])["reap_tasks"]["last_trigger"] == "manual"
