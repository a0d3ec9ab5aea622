"""Poll one CI source: read its newest runs, store them, and emit each status transition once.

- The first page is asked for with the stored ETag; a 304 ends the poll at the cost of one request. The
  new ETag is stored only once every run it covered was recorded, so a poll cut short is redone.
- More pages are read while the source has no history yet, or while a whole page was new or changed.
- A run's detail and stages are fetched only when it is new or its status changed.
- The first poll of a source records its history without events (no flood of old runs). After that,
  `pipeline.started` (entering running), `pipeline.completed` / `pipeline.failed` (entering a final
  status) and, for the deploy workflow, `deployment.started` / `deployment.completed` are emitted in
  the transaction that changes the row's status from the value it was read with, so a transition that
  two polls see is emitted by one of them only.
"""
from __future__ import annotations

import logging
from posixpath import basename
from typing import Any

import dramatiq
import peewee

from core.runtime import Runtime
from core.settings import Settings
from domain import cache_views
from domain.events import Emitted, emit, publish
from domain.polling.github import HEADERS, GitHub
from domain.polling.gitlab import GitLab
from domain.polling.http import Api, PollError
from domain.polling.kubernetes import clip
from domain.polling.observed import observed
from domain.polling.providers import MAX_PAGES, PER_PAGE, Provider, RateLimited, Run, duration
from models.db import db, tuples, utc_naive
from models.organization import OrganizationMember
from models.pipeline import FINISHED, CISource, Pipeline

log = logging.getLogger(__name__)
STRAGGLERS = 10


def _provider(settings: Settings, source: CISource) -> Provider:
    if source.provider == "github":
        headers = {"Authorization": f"Bearer {source.token}", **HEADERS}
    else:
        headers = {"PRIVATE-TOKEN": source.token, "Accept": "application/json"}
    api = Api(source.api_url, headers, timeout=settings.poll_timeout_seconds, verify=True,
              allow_private=settings.poll_allow_private)
    return (GitHub if source.provider == "github" else GitLab)(api, source.repository)


def poll(rt: Runtime, source: CISource) -> dict[str, Any]:
    """Read the source's newest runs and record them (see the module's docstring)."""
    return observed(rt.redis, source.provider, lambda: _poll(rt, source))


def _poll(rt: Runtime, source: CISource) -> dict[str, Any]:
    now = utc_naive()
    if source.rate_limited_until and source.rate_limited_until > now:
        return {"source": source.id, "skipped": f"rate limited until {source.rate_limited_until.isoformat()}Z"}
    result: dict[str, Any] = {"source": source.id}
    try:
        provider = _provider(rt.settings, source)
        try:
            result.update(_read(rt.broker, source, provider))
        finally:
            result["requests"] = provider.requests
            provider.api.close()
        if provider.exhausted_until:
            _record(source, "rate_limited", "rate limit exhausted", rate_limited_until=provider.exhausted_until)
    except RateLimited as exc:
        _record(source, "rate_limited", str(exc), rate_limited_until=exc.until)
        return {**result, "status": "rate_limited", "error": str(exc)}
    except PollError as exc:
        _record(source, "error", str(exc))
        return {**result, "status": "error", "error": str(exc)}
    except Exception as exc:  # an answer we could not make sense of; its text may quote what we sent
        error = f"unreadable answer: {type(exc).__name__}"
        _record(source, "error", error)
        return {**result, "status": "error", "error": error}
    if result.get("runs"):
        _drop_figures(rt, source)
    return {**result, "status": "ok"}


def _drop_figures(rt: Runtime, source: CISource) -> None:
    """New runs change the DORA figures of the organizations whose member owns the source (cached 5 minutes)."""
    member_of = OrganizationMember.select(OrganizationMember.organization).where(
        OrganizationMember.user == source.owner_id)
    for (organization_id,) in tuples(member_of):
        cache_views.organization_changed(rt.redis, organization_id)


def _record(source: CISource, status: str, error: str | None, **fields: Any) -> None:
    if error:
        log.warning("CI poll failed", extra={"source_id": source.id, "error": error})
    if status != "rate_limited":
        fields.setdefault("rate_limited_until", None)
    CISource.update(status=status, last_error=error, last_polled_at=utc_naive(), updated_at=utc_naive(),
                    **fields).where(CISource.id == source.id).execute()


def _read(broker: dramatiq.Broker, source: CISource, provider: Provider) -> dict[str, Any]:
    first = provider.page(1, source.etag)
    if first.not_modified:
        _record(source, "ok", None)
        return {"not_modified": True, "runs": 0, "events": _stragglers(broker, source, provider), "pages": 1}
    runs, number, page = list(first.runs), 1, first
    while len(page.runs) == PER_PAGE and number < MAX_PAGES and (
            not source.baselined or _all_changed(source, page.runs)):
        number += 1
        page = provider.page(number, None)
        runs.extend(page.runs)
    # A run that moved from the end of one page to the start of the next is in both: the later read wins.
    latest = {run.external_id: run for run in runs}
    ordered = list({run.external_id: None for run in reversed(runs)})  # oldest first
    events = sum(_apply(broker, source, provider, latest[external_id]) for external_id in ordered)
    now = utc_naive()
    for start in range(0, len(ordered), 500):
        Pipeline.update(seen_at=now).where((Pipeline.source == source.id)
                                           & Pipeline.external_id.in_(ordered[start:start + 500])).execute()
    _record(source, "ok", None, etag=first.etag, baselined=True, listed_at=now)
    source.listed_at = now
    return {"not_modified": False, "runs": len(latest), "events": events + _stragglers(broker, source, provider),
            "pages": number}


def _stragglers(broker: dramatiq.Broker, source: CISource, provider: Provider) -> int:
    """Unfinished runs that the last list no longer showed (pushed past its pages, or deleted) are asked for
    one by one, up to STRAGGLERS a poll, so none stays `running` for ever."""
    query = Pipeline.select().where((Pipeline.source == source.id) & Pipeline.status.not_in(FINISHED)
                                    & (Pipeline.seen_at.is_null() | (Pipeline.seen_at < source.listed_at)))
    events = 0
    for row in query.order_by(Pipeline.id).limit(STRAGGLERS):
        try:
            run = provider.run(row.external_id)
        except RateLimited:
            raise
        except PollError as exc:
            if exc.status not in (404, 410):
                raise
            Pipeline.update(status="cancelled", provider_status="gone", updated_at=utc_naive()).where(
                Pipeline.id == row.id).execute()  # deleted upstream: nothing to announce
            continue
        events += _apply(broker, source, provider, run)
    return events


def _all_changed(source: CISource, runs: list[Run]) -> bool:
    known = {p.external_id: p.status for p in Pipeline.select(Pipeline.external_id, Pipeline.status).where(
        (Pipeline.source == source.id) & Pipeline.external_id.in_([r.external_id for r in runs]))}
    return all(known.get(run.external_id) != run.status for run in runs)


RAN = ("running", "success", "failed")  # a stage whose jobs were all skipped or left manual did not run


def is_deploy(provider: str, wanted: str | None, workflow: str | None, workflow_path: str | None,
              stages: list[dict[str, Any]]) -> bool:
    """GitHub: the run's workflow, by name or file (path or base name, with or without a `@ref` suffix); GitLab:
    a stage of that name that ran."""
    if not wanted:
        return False
    if provider == "gitlab":
        return any(s.get("name") == wanted and s.get("status") in RAN for s in stages)
    # GitHub may give the path with the ref it ran from (`.github/workflows/build.yml@main`, as in its own example).
    path = (workflow_path or "").partition("@")[0]
    return wanted in {workflow, workflow_path, path, basename(path)}


def recompute_deploys(source: CISource) -> int:
    """After `deploy_workflow` changed: which of the source's recorded runs are deployments, decided again
    (no events: these runs' transitions have passed). Returns how many changed."""
    changed = 0
    for row in Pipeline.select().where(Pipeline.source == source.id):
        deploy = is_deploy(source.provider, source.deploy_workflow, row.workflow, row.workflow_path, row.stages)
        if deploy != row.is_deploy:
            changed += Pipeline.update(is_deploy=deploy).where(Pipeline.id == row.id).execute()
    return changed


def _apply(broker: dramatiq.Broker, source: CISource, provider: Provider, run: Run) -> int:
    existing = Pipeline.get_or_none((Pipeline.source == source.id) & (Pipeline.external_id == run.external_id))
    if existing is not None and existing.status == run.status:
        return 0
    try:
        stages = provider.stages(run)
    except RateLimited:
        raise
    except PollError:  # this run's jobs are unreadable: record it without stages rather than stall the source
        stages = []
    fields = _fields(source, run, stages)
    emitted: list[Emitted] = []
    with db.atomic():
        if existing is None:
            try:
                with db.atomic():
                    row = Pipeline.create(source=source.id, external_id=run.external_id, **fields)
            except peewee.IntegrityError:  # another poll recorded it first; it owns the events
                return 0
            old = None
        else:
            changed = Pipeline.update(**fields).where(
                (Pipeline.id == existing.id) & (Pipeline.status == existing.status)).execute()
            if not changed:
                return 0
            row, old = Pipeline.get_by_id(existing.id), existing.status
        if source.baselined:
            emitted = [emit(kind, event_data(row), owner_id=source.owner_id)
                       for kind in transition_events(old, row.status, row.is_deploy)]
    for item in emitted:
        publish(broker, item)
    return len(emitted)


def _fields(source: CISource, run: Run, stages: list[dict[str, Any]]) -> dict[str, Any]:
    finished = run.finished_at if run.status in FINISHED else None
    return {"repository": source.repository, "branch": clip(run.branch, 255), "workflow": clip(run.workflow, 255),
            "workflow_path": clip(run.workflow_path, 512),
            "is_deploy": is_deploy(source.provider, source.deploy_workflow, run.workflow, run.workflow_path, stages),
            "status": run.status,
            "provider_status": clip(run.provider_status, 64),
            "started_at": run.started_at, "finished_at": finished, "duration": duration(run.started_at, finished),
            "commit_sha": clip(run.commit_sha, 64), "commit_message": clip(run.commit_message, 65_536),
            "commit_author": clip(run.commit_author, 255), "commit_timestamp": run.commit_timestamp,
            "url": clip(run.url, 2048), "stages": _jsonable(stages), "updated_at": utc_naive()}


def _jsonable(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() + "Z" if hasattr(v, "isoformat") else v) for k, v in s.items()} for s in stages]


def transition_events(old: str | None, new: str, deploy: bool) -> list[str]:
    """The events a status change means: entering running starts, entering a final status ends."""
    kinds: list[str] = []
    if new == "running" and old != "running":
        kinds += ["pipeline.started"] + (["deployment.started"] if deploy else [])
    if new in FINISHED and old != new:
        kinds += ["pipeline.failed" if new == "failed" else "pipeline.completed"]
        kinds += ["deployment.completed"] if deploy else []
    return kinds


def event_data(row: Pipeline) -> dict[str, Any]:
    pipeline = {"id": row.id, "repository": row.repository, "branch": row.branch, "status": row.status,
                "duration": row.duration, "workflow": row.workflow, "commit_sha": row.commit_sha, "url": row.url}
    return {"pipeline": pipeline, "deployment": pipeline} if row.is_deploy else {"pipeline": pipeline}
