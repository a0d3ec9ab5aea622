"""The engineering analytics benchmark's baseline: each figure an endpoint answers, computed again by one SQL
statement straight from the raw rows (pull requests, reviews, commits, pipelines, CI sources), as an analyst would
write it from docs/engineering-analytics.md, with no rollup and no Python in between. The same SQL runs on SQLite
and PostgreSQL (window functions; only the hour difference and `GREATEST` differ). Percentiles interpolate
between the closest ranks, as the endpoints' do.
"""
# ruff: noqa: S608  (the statements are put together from this module's constants; every value is a bound parameter)
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.db import db, is_postgres

LEAD_LOOKBACK = timedelta(days=90)  # DORA's lead time looks at pull requests merged up to this before the range


def _hours(earlier: str, later: str) -> str:
    if is_postgres():
        return f"GREATEST(EXTRACT(EPOCH FROM ({later}) - ({earlier})) / 3600.0, 0)"
    return f"MAX((julianday({later}) - julianday({earlier})) * 24.0, 0)"


def _true() -> str:
    return "TRUE" if is_postgres() else "1"


def _mark() -> str:
    return "%s" if is_postgres() else "?"


# The successful deploy runs each organization's members' CI sources saw, with their head commit's time (the stored
# commit's, else what the provider reported).
DEPLOYS = """deploys AS (
  SELECT m.organization_id, LOWER(x.repository) AS repo, x.commit_sha, x.finished_at,
         COALESCE(hc.committed_at, hc.authored_at, x.commit_timestamp) AS head_time
  FROM pipeline x JOIN ci_source s ON s.id = x.source_id JOIN organization_member m ON m.user_id = s.owner_id
  LEFT JOIN repository hr ON hr.organization_id = m.organization_id AND LOWER(hr.full_name) = LOWER(x.repository)
  LEFT JOIN "commit" hc ON hc.repository_id = hr.id AND hc.sha = x.commit_sha
  WHERE x.is_deploy = {true} AND x.status = 'success' AND x.finished_at IS NOT NULL)"""


def _cycles(where: str, bots: bool = False) -> str:
    """CTEs ending in `cycles`: the pull requests `where` names, each with its start, the first deployment that
    contains its merge commit, and its cycle in hours (start to deployed, or merged)."""
    human = "" if bots else " AND (d.is_bot IS NULL OR d.is_bot <> {true})"
    return f"""WITH {DEPLOYS},
pulls AS (
  SELECT p.id, p.repository_id, p.developer_id, p.state, p.opened_at, p.merged_at, p.closed_at,
         p.merge_commit_sha, r.organization_id, LOWER(r.full_name) AS repo,
         CASE WHEN p.first_commit_at IS NOT NULL AND p.first_commit_at <= p.opened_at THEN p.first_commit_at
              ELSE p.opened_at END AS started,
         COALESCE(mc.committed_at, mc.authored_at, p.merged_at) AS landed
  FROM pull_request p JOIN repository r ON r.id = p.repository_id
  LEFT JOIN developer d ON d.id = p.developer_id
  LEFT JOIN "commit" mc ON mc.repository_id = p.repository_id AND mc.sha = p.merge_commit_sha
  WHERE {where}{human}),
shipped AS (
  SELECT u.id, MIN(dp.finished_at) AS deployed_at FROM pulls u
  JOIN deploys dp ON dp.organization_id = u.organization_id AND dp.repo = u.repo
  WHERE u.merged_at IS NOT NULL AND dp.finished_at >= u.merged_at AND dp.head_time IS NOT NULL
    AND (dp.commit_sha = u.merge_commit_sha OR dp.head_time >= u.landed)
  GROUP BY u.id),
cycles AS (
  SELECT u.*, sh.deployed_at,
         CASE WHEN u.merged_at IS NOT NULL THEN {_hours("u.started", "COALESCE(sh.deployed_at, u.merged_at)")} END
           AS hours
  FROM pulls u LEFT JOIN shipped sh ON sh.id = u.id)""".replace("{true}", _true())


def _quantile(source: str, column: str, q: float) -> str:
    """The `q` quantile of `column` over `source` (a CTE), interpolated between the closest ranks."""
    return f"""(SELECT MIN(v) + (MAX(v) - MIN(v)) * (MIN(pos) - MIN(i)) FROM (
  SELECT v, i, {q} * (n - 1) AS pos FROM (
    SELECT {column} AS v, ROW_NUMBER() OVER (ORDER BY {column}) - 1 AS i, COUNT(*) OVER () AS n
    FROM {source} WHERE {column} IS NOT NULL) ranked) near WHERE ABS(i - pos) < 1)"""


def _one(sql: str, params: list[Any]) -> tuple[Any, ...]:
    row = db.execute_sql(sql.replace("?", _mark()), params).fetchone()
    return tuple(row)


def _scope(kind: str) -> str:
    """Whose pull requests: an organization's, a team's members' (cycle time), or a team's repositories' (DORA)."""
    return {"organization": "r.organization_id = ?",
            "team": "p.developer_id IN (SELECT developer_id FROM team_member WHERE team_id = ?)",
            "team_repositories": "r.team_id = ?", "pull": "p.id = ?"}[kind]


def cycle_time(kind: str, scope_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Merged pull requests (bots left out) in [start, end): how many, how many deployed, the mean and p50 cycle."""
    sql = _cycles(f"{_scope(kind)} AND p.merged_at >= ? AND p.merged_at < ?") + \
        f" SELECT COUNT(*), COUNT(deployed_at), AVG(hours), {_quantile('cycles', 'hours', 0.5)} FROM cycles"
    count, deployed, mean, p50 = _one(sql, [scope_id, start, end])
    return {"pull_requests": count, "deployed": deployed, "mean_hours": _round(mean), "p50_hours": _round(p50)}


def pull_requests(kind: str, scope_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Opened and merged in the range, time to merge's p50, pickup's p50 (the first review by another human), and
    the merge rate over those closed in the range."""
    first = f"""(SELECT MIN(v.submitted_at) FROM review v JOIN developer rd ON rd.id = v.developer_id
      WHERE v.pull_request_id = p.id AND v.developer_id <> COALESCE(p.developer_id, -1) AND rd.is_bot <> {_true()}
      AND v.submitted_at IS NOT NULL)"""
    human = f"(d.is_bot IS NULL OR d.is_bot <> {_true()})"
    sql = f"""WITH scoped AS (
  SELECT p.state, p.opened_at, p.merged_at, COALESCE(p.merged_at, CASE WHEN p.state = 'closed' THEN p.closed_at END)
           AS ended_at, {first} AS first_at
  FROM pull_request p JOIN repository r ON r.id = p.repository_id LEFT JOIN developer d ON d.id = p.developer_id
  WHERE {_scope(kind)} AND {human}),
merged AS (SELECT {_hours("opened_at", "merged_at")} AS hours FROM scoped WHERE merged_at >= ? AND merged_at < ?),
opened AS (SELECT CASE WHEN first_at IS NOT NULL AND (merged_at IS NULL OR first_at <= merged_at)
                  THEN {_hours("opened_at", "first_at")} END AS hours
           FROM scoped WHERE opened_at >= ? AND opened_at < ?),
ended AS (SELECT state FROM scoped WHERE state <> 'open' AND ended_at >= ? AND ended_at < ?)
SELECT (SELECT COUNT(*) FROM opened), (SELECT COUNT(*) FROM merged), {_quantile('merged', 'hours', 0.5)},
       {_quantile('opened', 'hours', 0.5)}, (SELECT COUNT(*) FROM ended WHERE state = 'merged'),
       (SELECT COUNT(*) FROM ended)"""
    opened, merged, merge_p50, pickup_p50, rate_merged, closed = _one(sql, [scope_id, start, end, start, end, start,
                                                                            end])
    return {"opened": opened, "merged": merged, "time_to_merge_p50_hours": _round(merge_p50),
            "pickup_p50_hours": _round(pickup_p50), "merge_rate_merged": rate_merged, "merge_rate_closed": closed}


def timeline(pull_id: int) -> dict[str, Any]:
    """One pull request's cycle and when it was deployed (bots included, as the timeline shows any)."""
    sql = _cycles(_scope("pull"), bots=True) + " SELECT hours, deployed_at FROM cycles"
    hours, deployed = _one(sql, [pull_id])
    return {"cycle_hours": _round(hours), "deployed": deployed is not None}


def dora(kind: str, scope_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Successful and failed deploys finished in the range (the organization's members' CI sources for the scope's
    repositories), and the median lead time: the cycles of the pull requests deployed in the range."""
    where = _scope("organization" if kind == "organization" else "team_repositories")
    runs = f"""SELECT COALESCE(SUM(CASE WHEN x.status = 'success' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN x.status = 'failed' THEN 1 ELSE 0 END), 0)
FROM pipeline x JOIN ci_source s ON s.id = x.source_id JOIN organization_member m ON m.user_id = s.owner_id
WHERE m.organization_id = (SELECT MIN(r.organization_id) FROM repository r WHERE {where})
  AND LOWER(x.repository) IN (SELECT LOWER(r.full_name) FROM repository r WHERE {where})
  AND x.is_deploy = {_true()} AND x.status IN ('success', 'failed') AND x.finished_at >= ? AND x.finished_at < ?"""
    good, failed = _one(runs, [scope_id, scope_id, start, end])
    leads = _cycles(f"{where} AND p.merged_at >= ? AND p.merged_at < ?") + \
        ", led AS (SELECT hours FROM cycles WHERE deployed_at >= ? AND deployed_at < ?)" + \
        f" SELECT COUNT(hours), {_quantile('led', 'hours', 0.5)} FROM led"
    samples, median = _one(leads, [scope_id, start - LEAD_LOOKBACK, end, start, end])
    return {"deployments": int(good), "failed": int(failed), "lead_time_samples": samples,
            "lead_time_median_hours": _round(median)}


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


# Each issue's change in force at a moment: its latest recorded change at or before it.
_IN_FORCE = """(SELECT c.milestone_id FROM issue_change c WHERE c.issue_id = i.id AND c.changed_at <= {at}
   ORDER BY c.changed_at DESC, c.id DESC LIMIT 1)"""
_POINTS = """(SELECT COALESCE(c.points, 0) FROM issue_change c WHERE c.issue_id = i.id AND c.changed_at <= {at}
   ORDER BY c.changed_at DESC, c.id DESC LIMIT 1)"""


def velocity(team_id: int, title: str, start: datetime, end: datetime) -> dict[str, Any]:
    """One sprint of a team (its repositories' milestones titled `title`, first day `start`, last day before `end`):
    the points of the open issues in it at the end of its first day, and of those closed inside it while in it."""
    milestones = "SELECT m.id FROM milestone m JOIN repository r ON r.id = m.repository_id " \
                 "WHERE r.team_id = ? AND LOWER(m.title) = LOWER(?)"
    issues = "FROM issue i JOIN repository r ON r.id = i.repository_id WHERE r.team_id = ?"
    planned = f"""SELECT COALESCE(SUM({_POINTS.format(at="?")}), 0) {issues}
  AND (i.closed_at IS NULL OR i.closed_at >= ?) AND {_IN_FORCE.format(at="?")} IN ({milestones})"""
    completed = f"""SELECT COALESCE(SUM({_POINTS.format(at="i.closed_at")}), 0) {issues}
  AND i.closed_at >= ? AND i.closed_at < ? AND {_IN_FORCE.format(at="i.closed_at")} IN ({milestones})"""
    snapshot = start + timedelta(days=1)
    (planned_points,) = _one(planned, [snapshot, team_id, snapshot, snapshot, team_id, title])
    (completed_points,) = _one(completed, [team_id, start, end, team_id, title])
    return {"planned_points": int(planned_points), "completed_points": int(completed_points)}


def code_quality(organization_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Each repository's last done snapshot analysed in the range, summed (the coverage averaged over those with
    one), over the organization's repositories."""
    sql = """SELECT COUNT(*), SUM(s.code_smells), SUM(s.bugs), SUM(s.security_issues), SUM(s.vulnerabilities),
       SUM(s.technical_debt_minutes), AVG(s.test_coverage)
FROM quality_snapshot s JOIN repository r ON r.id = s.repository_id
WHERE r.organization_id = ? AND s.status = 'done' AND s.analysed_at >= ? AND s.analysed_at < ?
  AND s.id = (SELECT MAX(t.id) FROM quality_snapshot t WHERE t.repository_id = s.repository_id
              AND t.status = 'done' AND t.analysed_at >= ? AND t.analysed_at < ?)"""
    count, smells, bugs, security, vulnerable, minutes, coverage = _one(sql, [organization_id, start, end, start, end])
    return {"repositories": count, "code_smells": int(smells or 0), "bugs": int(bugs or 0),
            "security_issues": int(security or 0), "vulnerabilities": int(vulnerable or 0),
            "technical_debt_hours": _round((minutes or 0) / 60),
            "test_coverage": None if coverage is None else round(float(coverage), 1)}
