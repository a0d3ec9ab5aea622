"""Schema creation and migration: idempotent, versioned, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from models.db import db
from models.migrations import MIGRATIONS, SchemaVersion, current_version, migrate


def test_migrate_is_idempotent_and_records_versions(schema: None) -> None:
    assert migrate() == []
    with db.connection_context():
        assert current_version() == MIGRATIONS[-1].version
        assert [row.version for row in SchemaVersion.select().order_by(SchemaVersion.version)] == \
            [m.version for m in MIGRATIONS]
        for table in ("user", "outbox_message"):
            assert db.table_exists(table)


def test_versions_are_unique_and_increasing() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_a_version_1_database_gains_the_columns_added_since(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    """Upgrade path: a user table as migration 1 made it (no token_stamp, no rate_limit_tier) is migrated in place."""
    from models.db import connect_database
    from models.user import User

    database = connect_database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        with db.connection_context():
            db.execute_sql(
                'CREATE TABLE "user" (id INTEGER PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE, '
                'email VARCHAR(254), password_hash VARCHAR(256) NOT NULL, role VARCHAR(16) NOT NULL, '
                'is_active INTEGER NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)')
            db.execute_sql(
                "INSERT INTO \"user\" (username, password_hash, role, is_active, created_at, updated_at) "
                "VALUES ('old', 'x', 'admin', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
            db.create_tables([SchemaVersion])
            SchemaVersion.create(version=1, name="users and outbox")
        assert migrate() == [m.version for m in MIGRATIONS[1:]]
        with db.connection_context():
            old = User.get(User.username == "old")
            assert len(old.token_stamp) == 32 and old.rate_limit_tier is None
            assert (old.name, old.login, old.avatar_url, old.github_id, old.has_password) == (None,) * 4 + (True,)
    finally:
        database.close()
        connect_database(database_url)  # put the suite's database back on the proxy


def test_the_indexes_that_composite_indexes_cover_are_dropped_and_not_made_again(schema: None) -> None:
    """Migration 13: a database made by migration 12 had an index of its own on each foreign key of the activity
    tables; those no query uses are dropped (fresh databases never get them)."""
    def indexes(table: str) -> set[str]:
        return {index.name for index in db.get_indexes(table)}

    with db.connection_context():
        assert not {"commit_repository_id", "commit_developer_id", "commit_identity_id"} & indexes("commit")
        assert {"commit_repository_id_sha", "commit_developer_id_authored_at",
                "commit_repository_id_authored_at"} <= indexes("commit")
        assert "review_pull_request_id" not in indexes("review")
        db.execute_sql('CREATE INDEX "commit_repository_id" ON "commit" ("repository_id")')
        db.execute_sql('CREATE INDEX "review_developer_id" ON "review" ("developer_id")')
        SchemaVersion.delete().where(SchemaVersion.version == 13).execute()
    assert 13 in migrate()
    with db.connection_context():
        assert "commit_repository_id" not in indexes("commit") and "review_developer_id" not in indexes("review")
        assert current_version() == MIGRATIONS[-1].version


def test_issues_stored_before_sprint_history_are_in_their_sprint_since_opened(app: object) -> None:
    """Migration 17: an issue stored before it in a milestone (or with points) gets its sprint history, so velocity
    counts it; one in no sprint and without points gets none."""
    from datetime import datetime

    from models.activity import Issue, Milestone
    from models.organization import Organization
    from models.repository import Repository
    from models.sprints import IssueChange, Sprint

    with db.connection_context():
        org = Organization.create(name="Old")
        repo = Repository.create(organization=org, name="r", url="https://github.com/o/r", full_name="o/r",
                                 provider="github", api_url="https://api.github.com", hook_secret="s")
        milestone = Milestone.create(repository=repo, external_id="1", title="Sprint 1")
        planned = Issue.create(repository=repo, number=1, title="a", state="open", milestone=milestone, points=3,
                               opened_at=datetime(2026, 3, 1))
        Issue.create(repository=repo, number=2, title="b", state="open")
        db.drop_tables([IssueChange, Sprint])
        SchemaVersion.delete().where(SchemaVersion.version == 17).execute()
    assert migrate() == [17]
    with db.connection_context():
        assert [(c.issue_id, c.milestone_id, c.points, c.changed_at) for c in IssueChange.select()] == [
            (planned.id, milestone.id, 3, datetime(2026, 3, 1))]


def test_cycles_rolled_before_keep_their_time_to_merge_and_the_indexes_cover_the_figures(app: object) -> None:
    """Migration 20: a rolled-up cycle stored before it gets its time to merge (what the pull request metrics read
    now), and the cycles' indexes by organization and moment are the covering ones, the narrow ones gone."""
    from datetime import datetime

    from models.activity import PullRequest
    from models.cycles import COVERING, PullRequestCycle
    from models.organization import Organization
    from models.repository import Repository

    with db.connection_context():
        org = Organization.create(name="Old")
        repo = Repository.create(organization=org, name="r", url="https://github.com/o/r", full_name="o/r",
                                 provider="github", api_url="https://api.github.com", hook_secret="s")
        times = {"opened_at": datetime(2026, 3, 1, 9), "merged_at": datetime(2026, 3, 2, 10, 30)}
        merged = PullRequest.create(repository=repo, number=1, title="a", state="merged", **times)
        still_open = PullRequest.create(repository=repo, number=2, title="b", state="open",
                                        opened_at=times["opened_at"])
        for pull in (merged, still_open):
            PullRequestCycle.create(pull_request=pull, repository_id=repo.id, organization_id=org.id, state=pull.state,
                                    opened_at=pull.opened_at, merged_at=pull.merged_at)
        for moment in COVERING:
            db.execute_sql(f'DROP INDEX IF EXISTS "pull_request_cycle_{moment}_covering"')
        db.execute_sql('CREATE INDEX "pull_request_cycle_organization_id_merged_at" ON "pull_request_cycle" '
                       '("organization_id", "merged_at")')
        SchemaVersion.delete().where(SchemaVersion.version == 20).execute()
    assert migrate() == [20]
    with db.connection_context():
        kept = {c.pull_request_id: c.to_merge for c in PullRequestCycle.select()}
        assert kept[still_open.id] is None and abs(kept[merged.id] - 25.5 * 3600) < 0.01
        names = {index.name for index in db.get_indexes("pull_request_cycle")}
        assert {f"pull_request_cycle_{moment}_covering" for moment in COVERING} <= names
        assert "pull_request_cycle_organization_id_merged_at" not in names


def test_the_github_sign_in_migration_adds_its_columns_to_tables_made_before(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    """Migration 21 on a user and a developer table without its columns: added, the GitHub id unique, and the
    developer's user a foreign key that a deleted user's developers lose."""
    import peewee
    from playhouse.migrate import SqliteMigrator

    from models.db import connect_database
    from models.migrations import _github_sign_in

    database = connect_database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        with db.connection_context():
            db.execute_sql('CREATE TABLE "user" (id INTEGER PRIMARY KEY, username VARCHAR(64) NOT NULL)')
            db.execute_sql('CREATE TABLE "developer" (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL)')
            with db.atomic():
                _github_sign_in(SqliteMigrator(db.obj))
            assert {"name", "login", "avatar_url", "github_id"} <= {c.name for c in db.get_columns("user")}
            assert [fk.dest_table for fk in db.get_foreign_keys("developer")] == ["user"]
            db.execute_sql('INSERT INTO "user" (id, username, github_id) VALUES (1, \'a\', 7)')
            with pytest.raises(peewee.IntegrityError), db.atomic():
                db.execute_sql('INSERT INTO "user" (id, username, github_id) VALUES (2, \'b\', 7)')
            with db.atomic():
                _github_sign_in(SqliteMigrator(db.obj))  # again: nothing to add, nothing fails
    finally:
        database.close()
        connect_database(database_url)
