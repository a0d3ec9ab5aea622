"""Fixtures: a real Redis (the embedded one, or TEST_REDIS_URL) and a real database
(SQLite under a temp VAR_DIR, or PostgreSQL through TEST_DATABASE_URL, as CI does)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis
from core.runtime import Runtime
from models.db import connect_database, db
from models.migrations import all_models, migrate
from models.user import User

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def redis_url(var_dir: Path) -> Iterator[str]:
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    server, _ = ensure_embedded_redis(var_dir)
    yield server.url
    stop_embedded_redis(var_dir)


@pytest.fixture(scope="session")
def database_url(var_dir: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{var_dir / 'test.db'}"


@pytest.fixture(scope="session")
def base_env(var_dir: Path, redis_url: str, database_url: str) -> dict[str, str]:
    """Environment-style settings every test process shares."""
    return {
        "CONVEYOR_ENV": "test", "VAR_DIR": str(var_dir), "REDIS_URL": redis_url,
        "DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "RATE_LIMITS_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def schema(database_url: str) -> None:
    connect_database(database_url)
    migrate()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _clean_tables() -> None:
    with db.connection_context():
        for model in all_models():
            if model.__name__ != "SchemaVersion":
                model.delete().execute()


@pytest.fixture
def make_app(base_env: dict[str, str], schema: None, redis_client: redis.Redis) -> Iterator[Any]:
    """Build apps with extra settings; tables and Redis are emptied after the test."""

    def build(**overrides: str) -> Flask:
        app = create_app({**base_env, **overrides})
        app.testing = True
        return app

    yield build
    _clean_tables()


# Test modules marked `local_receivers` send webhooks to receivers (and polls to fixture APIs) on 127.0.0.1,
# which only this lets through.
LOCAL_RECEIVERS = {"WEBHOOK_ALLOW_PRIVATE": "true", "POLL_ALLOW_PRIVATE": "true"}


def _local_receivers(request: pytest.FixtureRequest) -> dict[str, str]:
    return dict(LOCAL_RECEIVERS) if request.node.get_closest_marker("local_receivers") else {}


@pytest.fixture
def app(make_app: Any, request: pytest.FixtureRequest) -> Flask:
    return make_app(**_local_receivers(request))  # type: ignore[no-any-return]


@pytest.fixture
def runtime(app: Flask) -> Runtime:
    """The app's Runtime (settings, Redis, broker), for tests that call domain functions directly."""
    return app.extensions["conveyor"].runtime


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def create_user(username: str, role: str = "user", password: str = PASSWORD) -> User:
    with db.connection_context():
        user = User(username=username, role=role)
        user.set_password(password)
        user.save()
        return user


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def auth(client: FlaskClient) -> Any:
    """`auth("admin")` creates a user with that role and hands back Bearer headers."""
    made: dict[str, dict[str, str]] = {}

    def headers(role: str = "user", username: str | None = None) -> dict[str, str]:
        name = username or f"{role}-user"
        if name not in made:
            create_user(name, role)
            made[name] = {"Authorization": f"Bearer {login(client, name)['access_token']}"}
        return made[name]

    return headers


@pytest.fixture
def worker_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Extra settings for the `worker` fixture's process; a test module overrides this to change them."""
    return _local_receivers(request)


@pytest.fixture
def worker(base_env: dict[str, str], worker_env: dict[str, str], tmp_path: Path, client: FlaskClient) -> Iterator[Any]:
    """A real `dramatiq` worker process on the suite's Redis and database."""
    from tests.support.processes import running, worker_argv

    log = (tmp_path / "worker.log").open("w")
    env = {**base_env, "dramatiq_worker_timeout": "100", "LOG_LEVEL": "INFO", **worker_env}
    with running(worker_argv(threads=4), env, log) as process:
        yield process
    log.close()


@pytest.fixture
def api_server(base_env: dict[str, str], tmp_path: Path, app: Flask, request: pytest.FixtureRequest) -> Iterator[str]:
    """The API under gunicorn (the server model `make run` uses), on a free port; yields its base URL.
    Under `local_receivers` it accepts webhook targets on 127.0.0.1 too, like `app` and `worker`."""
    log = (tmp_path / "api.log").open("w")
    with serving_api({**base_env, **_local_receivers(request)}, log) as base:
        yield base
    log.close()


@contextmanager
def serving_api(env: dict[str, str], log: IO[Any], port: int | None = None) -> Iterator[str]:
    """gunicorn serving the API with `env`, on `port` (a free one by default), until it is ready; yields its
    base URL."""
    import requests

    from tests.support.processes import BIN, free_port, running, wait_for

    port = port or free_port()
    argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "--threads", "64",
            "--graceful-timeout", "5", "--no-control-socket", "api:create_app()"]
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return requests.get(f"{base}/health/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    with running(argv, env, log):
        wait_for(ready, timeout=30, what="gunicorn to serve")
        yield base


def git(repo: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def step_dir() -> Iterator[Path]:
    """A directory that build steps can write to as well: a worker running as root runs its steps as
    `nobody` (workers/sandbox.py), and pytest's own temporary directories are for their user alone."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="conveyor-steps-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit on `main`."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch", "main")
    (path / "README.md").write_text("first version\n")
    git(path, "add", ".")
    git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "first")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """When a test fails, show the tail of each process log it wrote (worker, API, make run)."""
    outcome = yield
    report = outcome.get_result()
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if not report.failed or tmp is None:
        return
    for path in sorted(Path(tmp).glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()[-60:]
        report.sections.append((f"{path.name} (last {len(lines)} lines)", "\n".join(lines)))
