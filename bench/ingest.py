"""Engineering ingestion (issue 19): a repository's history read from a GitHub-shaped server and stored, against
a bare loop that fetches the same pages with `requests` and bulk-inserts their rows, in the same run.

The server serves "List commits", "List pull requests", "Get a pull request", "List commits on a pull request" and
"List reviews" pages built with the fixture builders (`tests/support/fake_scm.py`, GitHub's documented shapes),
serialised once up front so the server costs little, and served from a process of its own (as a provider is).
Conveyor's side is the poller itself (`domain.engineering.poller.poll`): identities resolved, rows upserted
idempotently, a transaction a batch of 1,000 records, the next pages read ahead in a thread. The bare side does
what a throwaway script would: GET every page the poll GETs (for commits, also the hundred "Get a commit" the poll
reads line counts from), keep the fields, bulk-INSERT them into plain tables with no identity resolution, no
upsert, no checks, a transaction a page. Commits and pull requests (with their reviews) are timed apart, each
against its bare twin.

Runs on SQLite under a temp VAR_DIR, or on the database in BENCH_DATABASE_URL (`bench/run.py` starts a
throwaway PostgreSQL for that). Usage: python -m bench.ingest [commits] [pulls] [reviews_per_pull]
"""
from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis  # noqa: E402
from tests.support.fake_scm import github_commit, github_pull, github_review, github_user  # noqa: E402

PER_PAGE = 100
DEVELOPERS = 500
TARGET_COMMITS_PER_SECOND = 2000
TARGET_RATIO = 0.5
REPO = "acme/big"


class History:
    """Every page, serialised: path -> list of page bodies (page 1 first), and single objects by path."""

    def __init__(self, commits: int, pulls: int, reviews_per_pull: int) -> None:
        now = datetime.now(UTC)
        people = [github_user(f"dev{i}", 10_000 + i) for i in range(DEVELOPERS)]
        def commit(n: int) -> Any:
            return github_commit(f"{n:040x}", now - timedelta(minutes=n), name=f"Dev {n % DEVELOPERS}",
                                 email=f"dev{n % DEVELOPERS}@example.com", user=people[n % DEVELOPERS], repo=REPO)
        details = [github_pull(n, people[n % DEVELOPERS], created=now - timedelta(hours=n + 1),
                               updated=now - timedelta(minutes=n), repo=REPO,
                               merged_at=now - timedelta(minutes=n) if n % 3 else None) for n in range(1, pulls + 1)]
        listed = [{k: v for k, v in d.items() if k not in ("additions", "deletions", "changed_files", "merged",
                                                           "mergeable", "rebaseable", "mergeable_state", "comments",
                                                           "review_comments", "maintainer_can_modify", "commits")}
                  for d in details]
        base = f"/repos/{REPO}"
        commit_pages = [json.dumps([commit(n) for n in range(start, min(start + PER_PAGE, commits))]).encode()
                        for start in range(0, commits, PER_PAGE)] or [b"[]"]  # a page at a time: 100,000 is big
        self.lists = {f"{base}/commits": commit_pages, f"{base}/pulls": self._pages(listed), f"{base}/issues": [b"[]"],
                      f"{base}/pulls/comments": [b"[]"]}
        self.objects: dict[str, bytes] = {}
        for detail in details:
            number = detail["number"]
            self.objects[f"{base}/pulls/{number}"] = json.dumps(detail).encode()
            reviews = [github_review(number * 10 + r, people[(number + r + 1) % DEVELOPERS], "APPROVED",
                                     now - timedelta(minutes=number), number=number, repo=REPO)
                       for r in range(reviews_per_pull)]
            self.lists[f"{base}/pulls/{number}/reviews"] = self._pages(reviews)
            self.lists[f"{base}/pulls/{number}/commits"] = self._pages([github_commit(
                f"{number:040x}", now - timedelta(hours=number + 2), user=people[number % DEVELOPERS], repo=REPO)])
        self.commits, self.pulls, self.reviews = commits, pulls, pulls * reviews_per_pull

    @staticmethod
    def _pages(items: list[Any]) -> list[bytes]:
        return [json.dumps(items[i:i + PER_PAGE]).encode() for i in range(0, max(len(items), 1), PER_PAGE)] or [b"[]"]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    history: History


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body: no 40 ms wait

    def do_GET(self) -> None:
        history = self.server.history  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        if url.path.startswith(f"/repos/{REPO}/commits/"):  # "Get a commit": the one source of line counts
            sha = url.path.rsplit("/", 1)[-1]
            body = json.dumps({**github_commit(sha, datetime.now(UTC), user=github_user("dev0", 10_000), repo=REPO),
                               "stats": {"total": 12, "additions": 10, "deletions": 2}}).encode()
        elif url.path in history.lists:
            pages = history.lists[url.path]
            body = pages[page - 1] if page <= len(pages) else b"[]"
        else:
            body = history.objects.get(url.path, b'{"message": "Not Found"}')
        self.send_response(200 if body != b'{"message": "Not Found"}' else 404)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-RateLimit-Remaining", "4999")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Served:
    """The fixture server in a process of its own (forked, so it has the pages already): a provider does not share
    the poller's interpreter, and serving from inside it would take the interpreter lock from the poll's threads
    (the one that reads ahead, and the one that stores) and from the bare loop alike. Stopped by its pid."""

    def __init__(self, history: History) -> None:
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(history, theirs), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{ours.recv()}"

    def shutdown(self) -> None:
        self.process.terminate()
        self.process.join(10)


def _serve(history: History, pipe: Any) -> None:
    server = Server(("127.0.0.1", 0), Handler)
    server.history = history
    pipe.send(server.server_address[1])
    server.serve_forever()


def serve(history: History) -> tuple[Served, str]:
    served = Served(history)
    return served, served.url


def bare(base: str, database_url: str, with_pulls: bool) -> dict[str, Any]:
    """GET the pages the poll GETs and insert what they hold into plain tables: the floor for the same work."""
    from models.db import connect_database, db

    connect_database(database_url)
    session = requests.Session()
    with db.connection_context():
        for ddl in ("CREATE TABLE IF NOT EXISTS bare_commit (sha VARCHAR(64), author VARCHAR(255), "
                    "authored_at VARCHAR(40), message TEXT)",
                    "CREATE TABLE IF NOT EXISTS bare_commit_stats (sha VARCHAR(64), additions INTEGER, "
                    "deletions INTEGER)",
                    "CREATE TABLE IF NOT EXISTS bare_pull (number INTEGER, author VARCHAR(255), state VARCHAR(16), "
                    "additions INTEGER, deletions INTEGER, first_commit VARCHAR(40))",
                    "CREATE TABLE IF NOT EXISTS bare_review (id BIGINT, number INTEGER, author VARCHAR(255), "
                    "state VARCHAR(32))"):
            db.execute_sql(ddl)
        mark = "%s" if database_url.startswith("postgres") else "?"
        started = time.monotonic()
        if not with_pulls:
            newest: list[str] = []
            for page in _pages_iter(session, f"{base}/repos/{REPO}/commits"):
                rows = [(c["sha"], (c["author"] or {}).get("login"), c["commit"]["author"]["date"],
                         c["commit"]["message"]) for c in page]
                newest = newest or [c["sha"] for c in page]
                with db.atomic():
                    _bulk(db.cursor(), "bare_commit", 4, rows, mark)
            # The rest of what the poll GETs: the (empty) lists, and "Get a commit" for the hundred newest
            for path in ("pulls", "pulls/comments", "issues"):
                session.get(f"{base}/repos/{REPO}/{path}", params={"per_page": PER_PAGE, "page": 1}, timeout=30)
            stats = [(sha, (d := session.get(f"{base}/repos/{REPO}/commits/{sha}", timeout=30).json())["stats"]
                      ["additions"], d["stats"]["deletions"]) for sha in newest[:100]]
            with db.atomic():
                _bulk(db.cursor(), "bare_commit_stats", 3, stats, mark)
            return {"seconds": time.monotonic() - started}
        for page in _pages_iter(session, f"{base}/repos/{REPO}/pulls"):
            for listed in page:
                number = listed["number"]
                detail = session.get(f"{base}/repos/{REPO}/pulls/{number}", timeout=30).json()
                first = min(c["commit"]["author"]["date"] for c in session.get(
                    f"{base}/repos/{REPO}/pulls/{number}/commits", params={"per_page": PER_PAGE, "page": 1},
                    timeout=30).json())
                reviews = [r for p in _pages_iter(session, f"{base}/repos/{REPO}/pulls/{number}/reviews") for r in p]
                with db.atomic():
                    cursor = db.cursor()
                    cursor.execute(f"INSERT INTO bare_pull VALUES ({', '.join([mark] * 6)})",  # noqa: S608
                                   (number, detail["user"]["login"], detail["state"], detail["additions"],
                                    detail["deletions"], first))
                    _bulk(cursor, "bare_review", 4, [(r["id"], number, r["user"]["login"], r["state"])
                                                     for r in reviews], mark)
        return {"seconds": time.monotonic() - started}


def _bulk(cursor: Any, table: str, width: int, rows: list[tuple[Any, ...]], mark: str) -> None:
    """A multi-row INSERT: `executemany` on SQLite, `execute_values` on PostgreSQL (psycopg2's `executemany` would
    send one statement per row, which is no bulk insert)."""
    if not rows:
        return
    if mark == "%s":
        import psycopg2.extras

        psycopg2.extras.execute_values(cursor, f"INSERT INTO {table} VALUES %s", rows, page_size=len(rows))  # noqa: S608
    else:
        cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join([mark] * width)})", rows)  # noqa: S608


def _pages_iter(session: requests.Session, url: str) -> Any:
    page = 1
    while True:
        body = session.get(url, params={"per_page": PER_PAGE, "page": page}, timeout=30).json()
        yield body
        if len(body) < PER_PAGE:
            return
        page += 1


def conveyor(runtime: Any, base: str, name: str) -> dict[str, Any]:
    """One poll of a fresh repository whose API is `base`: the poller's own work, end to end."""
    from domain.engineering import poller
    from models.db import db
    from models.organization import Organization
    from models.repository import Repository

    with db.connection_context():
        org = Organization.get_or_create(name="bench")[0]
        repo = Repository.create(organization=org.id, name=name, url=f"https://github.com/{REPO}/{name}",
                                 full_name=REPO, provider="github", api_url=base, hook_secret="bench-hook-secret",  # noqa: S106
                                 backfill_days=3650)
        started = time.monotonic()
        outcome = poller.poll(runtime, repo)
        seconds = time.monotonic() - started
    assert outcome["status"] == "ok", outcome
    return {"seconds": seconds, **{k: outcome[k] for k in ("commits", "pull_requests", "reviews", "requests")}}


def main(commits: int = 100_000, pulls: int = 10_000, reviews_per_pull: int = 3) -> dict[str, Any]:
    if commits < 1 or pulls < 1:
        raise SystemExit("bench.ingest needs at least one commit and one pull request")
    from core.settings import load_settings
    from models.migrations import migrate
    from workers.setup import configure

    var = Path(tempfile.mkdtemp(prefix="conveyor-bench-ingest-"))
    redis_server, _ = ensure_embedded_redis(var)
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{var / 'conveyor.db'}")
    engine = "postgresql" if database_url.startswith("postgres") else "sqlite"
    env = {"VAR_DIR": str(var), "REDIS_URL": redis_server.url, "DATABASE_URL": database_url,
           "SECRET_KEY": "bench-secret-key-long-enough-0123456789", "LOG_LEVEL": "WARNING",
           "POLL_ALLOW_PRIVATE": "true", "POLL_TIMEOUT_SECONDS": "30"}
    print(f"ingest ({engine}): building {commits} commits, {pulls} pull requests, "
          f"{pulls * reviews_per_pull} reviews ...", flush=True)
    commit_history, pull_history = History(commits, 0, 0), History(0, pulls, reviews_per_pull)
    commit_server, commit_base = serve(commit_history)
    pull_server, pull_base = serve(pull_history)
    try:
        runtime = configure(load_settings(env, env_file=None))
        migrate()
        print(f"ingest ({engine}): commits, Conveyor then bare ...", flush=True)
        ours_commits = conveyor(runtime, commit_base, "commits")
        bare_commits = bare(commit_base, database_url, with_pulls=False)
        print(f"ingest ({engine}): pull requests and reviews, Conveyor then bare ...", flush=True)
        ours_pulls = conveyor(runtime, pull_base, "pulls")
        bare_pulls = bare(pull_base, database_url, with_pulls=True)
    finally:
        commit_server.shutdown()
        pull_server.shutdown()
        stop_embedded_redis(var)
    commit_rate = commits / ours_commits["seconds"]
    bare_commit_rate = commits / bare_commits["seconds"]
    pull_rate = pulls / ours_pulls["seconds"]
    bare_pull_rate = pulls / bare_pulls["seconds"]
    result = {
        "engine": engine, "commits": commits, "pull_requests": pulls, "reviews": pulls * reviews_per_pull,
        "developers": DEVELOPERS,
        "conveyor": {"commits": ours_commits, "pulls": ours_pulls},
        "commits_per_second": round(commit_rate), "bare_commits_per_second": round(bare_commit_rate),
        "commit_ratio": round(commit_rate / bare_commit_rate, 2),
        "pulls_per_second": round(pull_rate, 1), "bare_pulls_per_second": round(bare_pull_rate, 1),
        "pull_ratio": round(pull_rate / bare_pull_rate, 2),
    }
    result["meets_target"] = verdict(result)
    return result


def verdict(r: dict[str, Any]) -> str:
    misses = []
    if r["commits_per_second"] < TARGET_COMMITS_PER_SECOND:
        misses.append(f"{r['commits_per_second']} commits/s < {TARGET_COMMITS_PER_SECOND}")
    for key in ("commit_ratio", "pull_ratio"):
        if r[key] < TARGET_RATIO:
            misses.append(f"{key} {r[key]} < {TARGET_RATIO}")
    return "NO: " + ", ".join(misses) if misses else "yes"


def table(runs: list[dict[str, Any]]) -> str:
    lines = ["| database | commits | commits/s (bare) | ratio | pull requests (reviews) | pull requests/s (bare) | "
             "ratio | requests | meets target |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in runs:
        requests_made = r["conveyor"]["commits"]["requests"] + r["conveyor"]["pulls"]["requests"]
        lines.append(f"| {r['engine']} | {r['commits']} | {r['commits_per_second']} ({r['bare_commits_per_second']}) "
                     f"| {r['commit_ratio']} | {r['pull_requests']} ({r['reviews']}) | {r['pulls_per_second']} "
                     f"({r['bare_pulls_per_second']}) | {r['pull_ratio']} | {requests_made} | {r['meets_target']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    outcome = main(*[int(n) for n in sys.argv[1:4]])
    print(json.dumps(outcome, indent=2))
    print(table([outcome]))
    if os.environ.get("BENCH_OUTPUT"):
        Path(os.environ["BENCH_OUTPUT"]).write_text(json.dumps(outcome))
