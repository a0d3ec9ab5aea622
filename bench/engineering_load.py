"""The engineering analytics endpoints under 8 clients (wrk, as `bench/api_latency.py`), uncached and cached.

An organization's (or a team's) figures are cached 5 minutes under `engineering_figures`, keyed by the organization
and the query's arguments (`core.cache.key`). So each uncached request asks for another range: its start moves on by
one second a request (a Lua script gives wrk's requests their paths), which changes the key and hardly the answer;
the cached run asks for one range again and again, after a first request stored it. A timeline is never cached: its
requests go through a sample of merged pull requests. Each wrk run begins where the last one ended, so no two
requests of a benchmark share a key, and after each the server is left to finish the requests wrk gave up on.
"""
from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench import api_latency

SCRIPT = """local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local n = 0
{table}
function request()
  n = n + 1
  local k = {first} + n * {wrk_threads} + id
  return wrk.format(nil, {path})
end
"""
OFFSETS_A_RUN = 10_000  # more requests than any uncached run makes (a run moves the start on by up to 3 hours)


class Load:
    """wrk runs against one server, each with paths no earlier run used."""

    def __init__(self, base: str, token: str, seconds: int, warmup: int) -> None:
        self.base, self.token, self.seconds, self.warmup = base, token, seconds, warmup
        self.runs = 0

    def varying_range(self, path: str, start: datetime, end: datetime) -> dict[str, Any]:
        """`path` with a range whose start moves on a second a request (from `start`): never a cached answer."""
        epoch = int(start.replace(tzinfo=UTC).timestamp())
        prefix = _lua_string(f"{path}&end_date={_iso(end)}&start_date=")
        return self._run(path, "", f'{prefix} .. os.date("!%Y-%m-%dT%H:%M:%SZ", {epoch} + k)')

    def varying_id(self, path: str, ids: list[int]) -> dict[str, Any]:
        """`path` with `{pull}` replaced by each of `ids` in turn."""
        head, _, tail = path.partition("{pull}")
        table = "local ids = {" + ", ".join(map(str, ids)) + "}"
        return self._run(path, table, f"{_lua_string(head)} .. ids[(k % #ids) + 1] .. {_lua_string(tail)}")

    def fixed(self, path: str) -> dict[str, Any]:
        """The same path every time (its answer cached by the first request)."""
        return self._run(path, "", _lua_string(path))

    def _run(self, label: str, table: str, path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for seconds in ((self.warmup,) if self.warmup else ()) + (self.seconds,):
            script = SCRIPT.format(table=table, first=self.runs * OFFSETS_A_RUN, wrk_threads=api_latency.WRK_THREADS,
                                   path=path)
            self.runs += 1
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
                file.write(script)
            try:
                result = api_latency.wrk(self.base + "/", self.token, seconds, "--timeout", "30s", "-s", file.name)
            finally:
                Path(file.name).unlink()
            settle(self.base)
        if not result["requests"]:  # none finished in the run: wrk prints zeros
            result.update(p50=None, p90=None, p99=None)
        print(f"  {label}: {result['requests_per_second']} req/s, p50 {result['p50']} ms, p99 {result['p99']} ms, "
              f"{result['errors']} errors", flush=True)
        return result


def settle(base: str, timeout: float = 120.0) -> float:
    """Wait until the requests wrk gave up on at the end of a run are done (the server serves them still), so the
    next run does not queue behind them: until `/metrics` says it is the only request in progress. The seconds
    waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        text = requests.get(f"{base}/metrics", timeout=30).text
        busy = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("conveyor_http_requests_in_progress"))
        if busy <= 1:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def with_range(path: str, start: datetime, end: datetime) -> str:
    return f"{path}&start_date={_iso(start)}&end_date={_iso(end)}"
