"""The embedded Redis: one server per VAR_DIR, data kept across restarts."""
from __future__ import annotations

import multiprocessing
from pathlib import Path

import redis

from core.embedded_redis import _pid_alive, ensure_embedded_redis, stop_embedded_redis


def _ensure_pid(var_dir: str) -> int:
    server, _ = ensure_embedded_redis(Path(var_dir))
    return server.pid


def test_data_survives_a_restart(tmp_path: Path) -> None:
    server, started = ensure_embedded_redis(tmp_path)
    assert started
    try:
        redis.Redis.from_url(server.url).set("kept", "yes")
        assert stop_embedded_redis(tmp_path)
        assert not _pid_alive(server.pid)
        again, started_again = ensure_embedded_redis(tmp_path)
        assert started_again and again.pid != server.pid
        assert redis.Redis.from_url(again.url).get("kept") == b"yes"
    finally:
        stop_embedded_redis(tmp_path)


def test_processes_sharing_var_dir_start_one_server(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pids = pool.map(_ensure_pid, [str(tmp_path)] * 4)
    try:
        assert len(set(pids)) == 1
        server, started = ensure_embedded_redis(tmp_path)
        assert not started and server.pid == pids[0]
    finally:
        stop_embedded_redis(tmp_path)


def test_server_requires_its_password_and_listens_on_loopback_only(tmp_path: Path) -> None:
    server, _ = ensure_embedded_redis(tmp_path)
    try:
        anonymous = redis.Redis(host="127.0.0.1", port=server.port)
        try:
            anonymous.ping()
            raise AssertionError("an unauthenticated client was accepted")
        except redis.AuthenticationError:
            pass
        assert redis.Redis.from_url(server.url).config_get("bind")["bind"] == "127.0.0.1"
        assert (tmp_path / "redis" / "server.json").stat().st_mode & 0o077 == 0
    finally:
        stop_embedded_redis(tmp_path)


def test_stop_when_nothing_runs_is_harmless(tmp_path: Path) -> None:
    assert stop_embedded_redis(tmp_path) is False
