"""Schema creation and migration, recorded in a `schema_version` table.

Each migration runs once, in order, inside a transaction. Later issues append to MIGRATIONS and use
`playhouse.migrate` operations (`migrator.add_column`, ...) through the migrator they are handed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import peewee
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator
from playhouse.migrate import migrate as migrate_ops

from models.activity import Commit, HookDelivery, Issue, Milestone, PullRequest, Review
from models.alert import Alert, AlertRule
from models.api_key import ApiKey
from models.audit import AuditEntry
from models.cluster import Cluster, ClusterNode, ClusterPod
from models.cycles import COVERING, CycleWatermark, PullRequestCycle
from models.db import BaseModel, JSONField, db, is_postgres, utc_naive
from models.delivery import Delivery, DeliveryAttempt
from models.developer import Developer, DeveloperIdentity, IdentityChange, IdentityEmail, TeamMember
from models.event import Event
from models.metric import MetricPoint, MetricRollup, RollupWatermark
from models.organization import Organization, OrganizationMember, Team
from models.outbox import OutboxMessage
from models.pipeline import CISource, Pipeline
from models.project import Project
from models.quality import QualitySnapshot
from models.repository import Repository
from models.session import RevokedSession
from models.sprints import IssueChange, Sprint
from models.sql import seconds_between
from models.task import Task, TaskLog
from models.user import User, new_stamp
from models.webhook import WebhookEndpoint

_PG_LOCK_KEY = 0x636F6E76  # "conv": serialises migrations across processes on PostgreSQL


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=128)
    applied_at = peewee.DateTimeField(default=utc_naive)


class Migration(NamedTuple):
    version: int
    name: str
    apply: Callable[[SchemaMigrator], None]


def _initial(migrator: SchemaMigrator) -> None:
    db.create_tables([User, OutboxMessage], safe=True)


def add_column(migrator: SchemaMigrator, table: str, name: str, field: peewee.Field) -> None:
    """Add a column unless it exists: a fresh database got it from the current model in migration 1."""
    if name not in {column.name for column in db.get_columns(table)}:
        migrate_ops(migrator.add_column(table, name, field))


def _token_stamp(migrator: SchemaMigrator) -> None:
    add_column(migrator, "user", "token_stamp", peewee.CharField(max_length=32, default=new_stamp))


def _tasks(migrator: SchemaMigrator) -> None:
    db.create_tables([Project, Task, TaskLog, Event], safe=True)


def _webhooks(migrator: SchemaMigrator) -> None:
    db.create_tables([WebhookEndpoint], safe=True)


def _deliveries(migrator: SchemaMigrator) -> None:
    add_column(migrator, "event", "owner_id", peewee.IntegerField(null=True))
    add_column(migrator, "webhook_endpoint", "failing_since", peewee.DateTimeField(null=True))
    db.create_tables([Delivery, DeliveryAttempt], safe=True)


def _metrics(migrator: SchemaMigrator) -> None:
    db.create_tables([MetricPoint, MetricRollup, RollupWatermark], safe=True)


def _alerts(migrator: SchemaMigrator) -> None:
    db.create_tables([AlertRule, Alert], safe=True)


def _polling(migrator: SchemaMigrator) -> None:
    db.create_tables([Cluster, ClusterNode, ClusterPod, CISource, Pipeline], safe=True)


def _alert_owner(migrator: SchemaMigrator) -> None:
    add_column(migrator, "alert", "owner_id", peewee.IntegerField(null=True))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "alert_owner_id" ON "alert" ("owner_id")')


def _revoked_sessions(migrator: SchemaMigrator) -> None:
    db.create_tables([RevokedSession], safe=True)


def _rate_limit_tier(migrator: SchemaMigrator) -> None:
    add_column(migrator, "user", "rate_limit_tier", peewee.CharField(max_length=32, null=True))


def _engineering(migrator: SchemaMigrator) -> None:
    db.create_tables([Organization, OrganizationMember, Team, Developer, DeveloperIdentity, IdentityEmail,
                      TeamMember, IdentityChange, Repository, Commit, PullRequest, Review, Milestone, Issue,
                      HookDelivery], safe=True)


def _backfill(migrator: SchemaMigrator) -> None:
    add_column(migrator, "repository", "backfill", JSONField(null=True))


def _unused_indexes(migrator: SchemaMigrator) -> None:
    """Drop the foreign keys' own indexes that no query uses: where a composite index begins with the same
    column, and `commit.identity_id` (see `Commit.identity`). Each cost every ingested row an index write (a
    backfill's commits took twice as long). The models now say `index=False` for them."""
    for model in (Commit, PullRequest, Review, Milestone, Issue, HookDelivery):
        for field in model._meta.sorted_fields:
            if isinstance(field, peewee.ForeignKeyField) and not field.index:
                db.execute_sql(f'DROP INDEX IF EXISTS "{model._meta.table_name}_{field.column_name}"')


def _pull_heads(migrator: SchemaMigrator) -> None:
    add_column(migrator, "pull_request", "head_sha", peewee.CharField(max_length=64, null=True))


def _cycles(migrator: SchemaMigrator) -> None:
    add_column(migrator, "pull_request", "changed_at", peewee.DateTimeField(default=utc_naive))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "pull_request_changed_at" ON "pull_request" ("changed_at")')
    db.create_tables([PullRequestCycle, CycleWatermark], safe=True)


def _sprints(migrator: SchemaMigrator) -> None:
    add_column(migrator, "milestone", "starts_on", peewee.DateTimeField(null=True))
    add_column(migrator, "milestone", "opened_at", peewee.DateTimeField(null=True))
    db.create_tables([Sprint, IssueChange], safe=True)
    # The issues stored before: in their sprint since they were opened (domain.engineering.sprint_history).
    IssueChange.insert_from(
        Issue.select(Issue.id, Issue.milestone, Issue.points, peewee.fn.COALESCE(Issue.opened_at, Issue.created_at))
        .where(Issue.milestone.is_null(False) | Issue.points.is_null(False)),
        [IssueChange.issue, IssueChange.milestone_id, IssueChange.points, IssueChange.changed_at]).execute()


def _quality(migrator: SchemaMigrator) -> None:
    db.create_tables([QualitySnapshot], safe=True)


def _pipeline_commits(migrator: SchemaMigrator) -> None:
    db.execute_sql('CREATE INDEX IF NOT EXISTS "pipeline_commit_sha" ON "pipeline" ("commit_sha")')


def _analytics_indexes(migrator: SchemaMigrator) -> None:
    """The rolled-up cycles' indexes by organization and moment hold what their figures read (`COVERING`): on
    PostgreSQL as INCLUDEd columns, on SQLite in the key (its index covers what it holds). An organization's cycle
    time read its rows from all over the table; now an index-only scan (once VACUUM has marked the pages). And
    each source's runs by finish, for the deploys just before and after a failed one (DORA's time to restore).
    The cycles keep each pull request's time to merge (which the pull request metrics computed row by row)."""
    add_column(migrator, "pull_request_cycle", "to_merge", peewee.FloatField(null=True))
    PullRequestCycle.update(to_merge=seconds_between(PullRequestCycle.opened_at, PullRequestCycle.merged_at)).where(
        PullRequestCycle.to_merge.is_null()).execute()
    db.execute_sql('CREATE INDEX IF NOT EXISTS "pipeline_source_id_is_deploy_finished_at" ON "pipeline" '
                   '("source_id", "is_deploy", "finished_at")')
    for moment, columns in COVERING.items():
        db.execute_sql(f'DROP INDEX IF EXISTS "pull_request_cycle_organization_id_{moment}"')
        held = ", ".join(f'"{column}"' for column in columns)
        if is_postgres():
            key, included = f'"organization_id", "{moment}"', f" INCLUDE ({held})"
        else:
            key, included = f'"organization_id", "{moment}", {held}', ""
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "pull_request_cycle_{moment}_covering" ON "pull_request_cycle" '
                       f"({key}){included}")


def _github_sign_in(migrator: SchemaMigrator) -> None:
    for name in ("name", "login"):
        add_column(migrator, "user", name, peewee.CharField(max_length=255, null=True))
    add_column(migrator, "user", "avatar_url", peewee.CharField(max_length=1024, null=True))
    add_column(migrator, "user", "github_id", peewee.BigIntegerField(null=True))
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS "user_github_id" ON "user" ("github_id")')
    add_column(migrator, "developer", "user_id",
               peewee.ForeignKeyField(User, field=User.id, null=True, on_delete="SET NULL"))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "developer_user_id" ON "developer" ("user_id")')


def _audit(migrator: SchemaMigrator) -> None:
    db.create_tables([AuditEntry], safe=True)


def _api_keys(migrator: SchemaMigrator) -> None:
    db.create_tables([ApiKey], safe=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "users and outbox", _initial),
    Migration(2, "user token stamp", _token_stamp),
    Migration(3, "projects, tasks, task logs, events", _tasks),
    Migration(4, "webhook endpoints", _webhooks),
    Migration(5, "webhook deliveries and attempts", _deliveries),
    Migration(6, "metric points and rollups", _metrics),
    Migration(7, "alert rules and alerts", _alerts),
    Migration(8, "kubernetes clusters, CI sources and pipelines", _polling),
    Migration(9, "alert owners", _alert_owner),
    Migration(10, "revoked sessions", _revoked_sessions),
    Migration(11, "user rate-limit tiers", _rate_limit_tier),
    Migration(12, "organizations, teams, developers, repositories and their activity", _engineering),
    Migration(13, "activity: drop the foreign-key indexes no query uses", _unused_indexes),
    Migration(14, "repository backfill progress", _backfill),
    Migration(15, "pull requests' head commits", _pull_heads),
    Migration(16, "pull requests' cycles, rolled up", _cycles),
    Migration(17, "sprints, milestones' dates and issues' sprint history", _sprints),
    Migration(18, "repositories' code-quality snapshots", _quality),
    Migration(19, "pipelines by commit (a pull request's CI runs)", _pipeline_commits),
    Migration(20, "analytics: covering indexes of rolled-up cycles, pipelines by source and finish",
              _analytics_indexes),
    Migration(21, "GitHub sign-in: users' profiles and GitHub accounts, developers' users", _github_sign_in),
    Migration(22, "the audit log", _audit),
    Migration(23, "API keys", _api_keys),
)


def current_version() -> int:
    if not db.table_exists(SchemaVersion._meta.table_name):
        return 0
    latest = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar()
    return int(latest or 0)


@contextmanager
def _exclusive() -> Iterator[None]:
    """A transaction that holds the schema lock: an advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite."""
    if is_postgres():
        with db.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
            yield
    else:
        with db.atomic(lock_type="IMMEDIATE"):
            yield


def migrate() -> list[int]:
    """Bring the schema up to date; idempotent, and safe when two processes race to do it."""
    migrator = PostgresqlMigrator(db.obj) if is_postgres() else SqliteMigrator(db.obj)
    applied: list[int] = []
    with db.connection_context():
        with _exclusive():
            db.create_tables([SchemaVersion], safe=True)
        for migration in MIGRATIONS:
            with _exclusive():
                if SchemaVersion.get_or_none(SchemaVersion.version == migration.version):
                    continue
                migration.apply(migrator)
                SchemaVersion.create(version=migration.version, name=migration.name)
                applied.append(migration.version)
    return applied


def all_models() -> list[type[BaseModel]]:
    """Every table, dependents first, for tests that clean up between cases."""
    return [AuditEntry, QualitySnapshot, CycleWatermark, PullRequestCycle, HookDelivery, IssueChange, Sprint, Issue,
            Milestone, Review, PullRequest, Commit, Repository, IdentityChange, TeamMember, IdentityEmail,
            DeveloperIdentity, Developer, Team,
            OrganizationMember, Organization, Pipeline, CISource, ClusterPod, ClusterNode, Cluster, Alert, AlertRule,
            RollupWatermark, MetricRollup, MetricPoint, DeliveryAttempt, Delivery, WebhookEndpoint, Event, TaskLog,
            Task, Project, OutboxMessage, RevokedSession, ApiKey, User, SchemaVersion]
