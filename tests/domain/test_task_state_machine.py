"""The task state machine on the model: claims race with one winner, and a cancel, finish or progress report
that comes too late loses."""
from __future__ import annotations

import threading

import pytest
from flask import Flask

from models.db import db
from models.task import Task
from models.user import User
from tests.conftest import create_user


@pytest.fixture
def owner(app: Flask) -> User:
    """A user to own tasks made directly on the model; `app` empties the tables afterwards."""
    return create_user("machine")


def new_task(owner: User) -> str:
    with db.connection_context():
        return str(Task.create(kind="build", project_name="p", created_by=owner).id)


def status_of(task_id: str) -> Task:
    with db.connection_context():
        return Task.get_by_id(task_id)


def test_two_racing_claims_have_exactly_one_winner(owner: User) -> None:
    for _ in range(20):
        task_id = new_task(owner)
        barrier = threading.Barrier(2)
        outcomes: dict[str, bool] = {}
        errors: list[BaseException] = []

        def claim(worker: str, task_id: str = task_id, barrier: threading.Barrier = barrier,
                  outcomes: dict[str, bool] = outcomes, errors: list[BaseException] = errors) -> None:
            try:
                with db.connection_context():
                    barrier.wait(timeout=10)
                    outcomes[worker] = Task.claim(task_id, worker)
            except BaseException as error:  # surfaced below, not lost in the thread
                errors.append(error)

        threads = [threading.Thread(target=claim, args=(name,)) for name in ("w1", "w2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        assert sorted(outcomes.values()) == [False, True], outcomes
        winner = next(name for name, won in outcomes.items() if won)
        task = status_of(task_id)
        assert task.status == "running" and task.worker == winner and task.started_at is not None


def test_a_finish_after_a_cancel_loses_and_the_task_stays_cancelled(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.claim(task_id, "w1") is True
        assert Task.cancel(task_id) == "running"
        assert Task.finish(task_id, "completed", results={"steps": []}) is False
        assert Task.finish(task_id, "failed", error="boom") is False
    task = status_of(task_id)
    assert task.status == "cancelled" and task.results is None and task.progress != 100


def test_a_claim_after_a_cancel_loses(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.cancel(task_id) == "queued"
        assert Task.claim(task_id, "w1") is False
    task = status_of(task_id)
    assert task.status == "cancelled" and task.worker is None and task.started_at is None


def test_a_cancel_after_completion_returns_none_and_changes_nothing(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.claim(task_id, "w1") is True
        assert Task.finish(task_id, "completed", results={"ok": True}) is True
        assert Task.cancel(task_id) is None
    task = status_of(task_id)
    assert task.status == "completed" and task.progress == 100 and task.results == {"ok": True}
    assert task.error is None


def test_progress_is_recorded_only_while_running(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.record_progress(task_id, 10) is False  # still queued
        assert Task.claim(task_id, "w1") is True
        assert Task.record_progress(task_id, 40) is True
        assert Task.finish(task_id, "failed", error="step 'x' exited with code 1") is True
        assert Task.record_progress(task_id, 70) is False
    task = status_of(task_id)
    assert task.status == "failed" and task.progress == 40


def test_a_second_claim_of_a_running_task_and_a_second_finish_lose(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.claim(task_id, "w1") is True
        assert Task.claim(task_id, "w2") is False
        assert Task.finish(task_id, "completed") is True
        assert Task.finish(task_id, "failed", error="late") is False
    task = status_of(task_id)
    assert task.status == "completed" and task.worker == "w1" and task.error is None
