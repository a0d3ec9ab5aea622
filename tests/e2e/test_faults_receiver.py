"""Fault injection: a webhook receiver that accepts and never answers times out and does not starve other
endpoints.

Bounded; `CHAOS=full` (`make chaos`) runs a bigger version: more deliveries to the hanging receiver.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.domain.webhooks.test_delivery import endpoint
from tests.support.faults import FULL, deliveries, received, send_event
from tests.support.processes import wait_for
from tests.support.receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.local_receivers]


def test_a_hanging_receiver_times_out_and_does_not_starve_other_endpoints(
        client: FlaskClient, auth: Any, worker: Any, record_property: Any) -> None:
    user = auth("user")
    threads, pending = 4, (60 if FULL else 12)  # the `worker` fixture's threads; three times as many hang
    release = threading.Event()

    def hang() -> int:
        release.wait(120)  # reads the request, then never answers (until the test ends)
        return 200

    with receiving([hang]) as hanging, receiving([200]) as healthy:
        try:
            stuck = endpoint(client, user, hanging.url, events=["deployment.*"], timeout_seconds=2,
                             retry_policy={"backoff_base": 1.5, "max_retries": 10})
            endpoint(client, user, healthy.url, events=["pipeline.*"])
            send_event(client, user, "deployment.completed", {"n": 0})

            # The timeout holds: the attempt is recorded as one, and the delivery is retried.
            [first] = wait_for(lambda: [d for d in deliveries(client, user, stuck["id"]) if len(d["attempts"]) >= 2],
                               timeout=20, interval=0.2, what="a timed-out attempt, and its retry")
            for attempt in first["attempts"]:
                assert attempt["status_code"] is None and attempt["error"] == "timed out after 2 s"
                assert 1900 <= attempt["duration_ms"] < 4000

            # Many more deliveries to the hanging endpoint; a healthy one's still arrive at once.
            for n in range(pending):
                send_event(client, user, "deployment.completed", {"n": n + 1})
            latencies = []
            for n in range(8):
                sent = time.monotonic()
                send_event(client, user, "pipeline.completed", {"n": n})
                wait_for(received(healthy, n + 1), timeout=10, interval=0.01, what="a healthy delivery")
                latencies.append(time.monotonic() - sent)
                # Were threads held by the hanging attempts, it would wait for one: 2 s.
                assert latencies[-1] < 1.5, f"a healthy delivery took {latencies[-1]:.2f} s"
                time.sleep(0.25)  # spread the probes over the hanging attempts
            waiting = [d for d in deliveries(client, user, stuck["id"]) if d["status"] != "dead"]
            assert len(waiting) >= pending, "the hanging endpoint's deliveries are still pending"
        finally:
            release.set()

    summary = (f"healthy deliveries within {max(latencies) * 1000:.0f} ms (median "
               f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms) while {len(waiting)} to a hanging "
               f"receiver were pending ({threads} worker threads)")
    print(summary)
    record_property("hanging_receiver", summary)
