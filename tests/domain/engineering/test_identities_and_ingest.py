"""Storing activity (domain/engineering/ingest.py, identities.py, receiver.py) in the real database: one row per
commit, pull request and review however often hooks and polls bring them; identities and developers made on first
sight and joined only by a verified email; bots kept apart; merge and split recorded; hook deliveries stored
once and ingested once. And secrets at rest: the hook secret column holds ciphertext (core/crypto.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from core.crypto import KeyRing, SecretUnreadable, derived_key, key_ring
from domain.engineering import identities, receiver
from domain.engineering.hooks import github_activity, gitlab_activity
from domain.engineering.ingest import ingest
from domain.engineering.records import Activity, CommitRecord, Person, PullRecord, ReviewRecord
from models.activity import Commit, HookDelivery, PullRequest, Review
from models.db import db
from models.developer import Developer, DeveloperIdentity, IdentityChange, IdentityEmail, TeamMember
from models.organization import Organization, Team
from models.outbox import OutboxMessage
from models.repository import Repository
from tests.conftest import TEST_SECRET, create_user
from tests.domain.engineering import payloads as p
from tests.domain.engineering.conftest import HOOK_SECRET, make_repository
from workers.engineering import ingest_hook

ALICE = p.github_user("alice", 1001)


def hook(repo: Repository, event: str, payload: Any, bot_logins: tuple[str, ...] = ()) -> dict[str, int]:
    """Ingest what one delivery carries, as the worker does."""
    activity = github_activity(event, payload) if repo.provider == "github" else gitlab_activity(payload)
    assert activity is not None
    with db.connection_context():
        return ingest(repo, activity, bot_logins)


def poll(repo: Repository, activity: Activity, bot_logins: tuple[str, ...] = ()) -> dict[str, int]:
    with db.connection_context():
        return ingest(repo, activity, bot_logins)


def identity(provider: str, **where: Any) -> DeveloperIdentity:
    with db.connection_context():
        query = DeveloperIdentity.select().where(DeveloperIdentity.provider == provider)
        for name, value in where.items():
            query = query.where(getattr(DeveloperIdentity, name) == value)
        return query.get()


def one(model: Any, *where: Any) -> Any:
    """The stored row (typed Any: tests read the `<foreign key>_id` attributes peewee adds)."""
    with db.connection_context():
        return model.get(*where)


def commit(sha: str) -> Any:
    return one(Commit, Commit.sha == sha)


def count(model: Any) -> int:
    with db.connection_context():
        return int(model.select().count())


def changes() -> list[Any]:
    with db.connection_context():
        return list(IdentityChange.select().order_by(IdentityChange.id))


def alice_pushes(repo: Repository, n: int = 1, email: str = "alice@example.com") -> None:
    """A GitHub push by alice, whose email GitHub tied to her account."""
    hook(repo, "push", p.github_push([p.github_commit(p.sha(n), email=email, username="alice")]))


# Commits --------------------------------------------------------------------------------------------------

def test_a_commit_from_a_hook_and_from_a_poll_is_one_row_that_keeps_the_counts(github_repo: Repository) -> None:
    # given: a push hook (no line counts), then a poll of the same commit (with them), then the hook replayed
    push = p.github_push([p.github_commit(p.sha(1), timestamp="2026-11-30T10:15:00+01:00")])
    hook(github_repo, "push", push)
    polled = CommitRecord(sha=p.sha(1), author=Person("github", user_id="1001", login="alice", name="Alice Liddell"),
                          authored_at=datetime(2026, 11, 30, 9, 15), committed_at=datetime(2026, 11, 30, 9, 15),
                          message="Fix the flux capacitor", additions=12, deletions=3)
    poll(github_repo, Activity(commits=[polled]))
    after_poll = commit(p.sha(1))
    # when
    hook(github_repo, "push", push)
    # then
    stored = commit(p.sha(1))
    assert count(Commit) == 1
    assert (after_poll.additions, after_poll.deletions) == (12, 3)
    assert (stored.additions, stored.deletions) == (12, 3)
    assert (stored.authored_at, stored.message) == (datetime(2026, 11, 30, 9, 15), "Fix the flux capacitor")
    assert stored.identity_id == identity("github", login="alice").id


def test_the_same_sha_twice_in_one_batch_is_one_row(github_repo: Repository) -> None:
    first = p.github_commit(p.sha(1))
    result = hook(github_repo, "push", p.github_push([first, dict(first)]))
    assert result["commits"] == 1 and count(Commit) == 1


def test_a_commit_makes_its_identity_and_developer_on_first_sight(github_repo: Repository) -> None:
    # when: alice pushes twice
    alice_pushes(github_repo, 1)
    alice_pushes(github_repo, 2)
    # then: one identity (by login until GitHub names the account id) and one developer, both commits theirs
    found = identity("github", login="alice")
    with db.connection_context():
        developer = Developer.get_by_id(found.developer_id)
        emails = [(e.email, e.verified) for e in IdentityEmail.select().where(IdentityEmail.identity == found.id)]
        repo = Repository.get_by_id(github_repo.id)
    assert (count(DeveloperIdentity), count(Developer), count(Commit)) == (1, 1, 2)
    assert (found.provider_user_id, found.name, found.is_bot) == ("login:alice", "Alice Liddell", False)
    assert (developer.name, developer.email, developer.is_bot) == ("Alice Liddell", "alice@example.com", False)
    assert emails == [("alice@example.com", True)]
    for sha in (p.sha(1), p.sha(2)):
        assert (commit(sha).identity_id, commit(sha).developer_id) == (found.id, developer.id)
    assert repo.last_event_at == datetime(2026, 11, 30, 9, 15)


def test_a_github_account_seen_by_login_then_by_id_stays_one_identity(github_repo: Repository) -> None:
    # given: a push names alice by login only
    alice_pushes(github_repo)
    # when: a pull request names her with her account id
    hook(github_repo, "pull_request", p.github_pull_request_event(p.github_pull(number=7, user=ALICE)))
    # then
    found = identity("github", login="alice")
    pull = one(PullRequest, PullRequest.number == 7)
    assert count(DeveloperIdentity) == 1 and count(Developer) == 1
    assert found.provider_user_id == "1001"
    assert (pull.identity_id, pull.developer_id) == (found.id, found.developer_id)
    assert commit(p.sha(1)).identity_id == found.id


def test_a_github_account_seen_by_id_then_by_login_keeps_its_id(github_repo: Repository) -> None:
    hook(github_repo, "pull_request", p.github_pull_request_event(p.github_pull(number=7, user=ALICE)))
    alice_pushes(github_repo)
    found = identity("github", login="alice")
    assert count(DeveloperIdentity) == 1 and found.provider_user_id == "1001"
    assert commit(p.sha(1)).developer_id == found.developer_id


def test_a_login_taken_over_by_another_account_is_another_identity(github_repo: Repository) -> None:
    # given: account 1001 was "alice" when it opened a pull request
    hook(github_repo, "pull_request", p.github_pull_request_event(p.github_pull(number=7, user=ALICE)))
    # when: account 3003 is "alice" now (the first renamed, a newcomer took the login)
    newcomer = p.github_user("alice", 3003)
    hook(github_repo, "pull_request", p.github_pull_request_event(p.github_pull(number=8, user=newcomer)))
    # then
    with db.connection_context():
        ids = sorted(i.provider_user_id for i in DeveloperIdentity.select())
    assert ids == ["1001", "3003"]
    assert count(Developer) == 2


# Joining by email -----------------------------------------------------------------------------------------

def test_a_git_email_joins_the_developer_whose_github_account_verified_it(
        github_repo: Repository, org: Organization) -> None:
    # given: alice's GitHub account verified alice@example.com
    gitlab_repo = make_repository(org, "gitlab")
    alice_pushes(github_repo)
    # when: a GitLab push names a git author with that email (in other capitals)
    hook(gitlab_repo, "Push Hook", p.gitlab_push([p.gitlab_commit(p.sha(2), email="Alice@Example.COM")]))
    # then
    account, git = identity("github", login="alice"), identity("git")
    assert git.provider_user_id == "alice@example.com"
    assert git.developer_id == account.developer_id and count(Developer) == 1
    assert commit(p.sha(2)).developer_id == account.developer_id
    [change] = changes()
    assert (change.action, change.reason, change.identity_ids) == ("merge", "verified email alice@example.com",
                                                                   [git.id])
    assert change.to_developer_id == account.developer_id


@pytest.mark.parametrize("account_first", [True, False])
def test_new_people_of_one_delivery_join_by_verified_email_too(github_repo: Repository, account_first: bool) -> None:
    """New people are made together (one transaction a batch): one made earlier in the batch is there for the
    next to join, whichever of the two the batch names first."""
    commits = [p.github_commit(p.sha(1), username="alice"), p.github_commit(p.sha(2), username=None)]
    hook(github_repo, "push", p.github_push(commits if account_first else commits[::-1]))
    account, git = identity("github", login="alice"), identity("git")
    assert account.developer_id == git.developer_id and count(Developer) == 1
    assert [c.reason for c in changes()] == ["verified email alice@example.com"]


def test_a_verified_account_joins_the_developer_of_an_earlier_git_email(
        github_repo: Repository, org: Organization) -> None:
    gitlab_repo = make_repository(org, "gitlab")
    hook(gitlab_repo, "Push Hook", p.gitlab_push([p.gitlab_commit(p.sha(2), email="alice@example.com")]))
    alice_pushes(github_repo)
    account, git = identity("github", login="alice"), identity("git")
    assert account.developer_id == git.developer_id and count(Developer) == 1
    assert [c.reason for c in changes()] == ["verified email alice@example.com"]


def test_an_unverified_email_joins_nobody(gitlab_repo: Repository) -> None:
    # given: a GitLab account whose (public, but unverified as far as the hook says) email is bob's
    bob = p.gitlab_user(70, "bob", "Bob Builder", "bob@example.com")
    hook(gitlab_repo, "Merge Request Hook", p.gitlab_merge_request(
        p.gitlab_merge_request_attributes(author_id=70), user=bob))
    # when: a git author with that email pushes
    hook(gitlab_repo, "Push Hook", p.gitlab_push([p.gitlab_commit(p.sha(2), name="Bob", email="bob@example.com")]))
    # then
    account, git = identity("gitlab", provider_user_id="70"), identity("git")
    assert account.developer_id != git.developer_id and count(Developer) == 2
    assert changes() == []


def test_an_unverified_git_email_does_not_pull_in_a_later_git_email(github_repo: Repository) -> None:
    """Two git identities never join each other: neither email was verified by an account."""
    hook(github_repo, "push", p.github_push([p.github_commit(p.sha(1), email="carol@example.com", username=None)]))
    hook(github_repo, "push", p.github_push([p.github_commit(p.sha(2), email="carol@home.example", username=None,
                                                             name="Alice Liddell")]))
    assert count(DeveloperIdentity) == 2 and count(Developer) == 2 and changes() == []


# Bots -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "payload", "bot_logins", "login"), [
    pytest.param("push", p.github_push([p.github_commit(p.sha(5), username="dependabot[bot]", name="dependabot[bot]",
                                                        email="alice@example.com")]), (), "dependabot[bot]",
                 id="bot-suffix"),
    pytest.param("pull_request", p.github_pull_request_event(p.github_pull(
        number=11, user=p.github_user("ci-helper", 4004, kind="Bot"))), (), "ci-helper", id="bot-account-type"),
    pytest.param("push", p.github_push([p.github_commit(p.sha(5), username="release-robot", name="Release Robot",
                                                        email="alice@example.com")]), ("Release-Robot",),
                 "release-robot", id="bot-logins"),
])
def test_a_bot_is_its_own_developer_marked_as_a_bot(github_repo: Repository, event: str, payload: dict[str, Any],
                                                    bot_logins: tuple[str, ...], login: str) -> None:
    # given: alice, whose account verified alice@example.com
    alice_pushes(github_repo)
    # when: a bot acts, even with alice's verified email
    hook(github_repo, event, payload, bot_logins)
    # then
    bot, human = identity("github", login=login), identity("github", login="alice")
    with db.connection_context():
        bot_developer = Developer.get_by_id(bot.developer_id)
        human_developer = Developer.get_by_id(human.developer_id)
    assert bot.is_bot and bot_developer.is_bot
    assert not human_developer.is_bot
    assert bot.developer_id != human.developer_id and count(Developer) == 2
    assert changes() == []


def test_a_bot_seen_first_does_not_take_in_a_human_with_its_email(github_repo: Repository) -> None:
    hook(github_repo, "push", p.github_push([p.github_commit(p.sha(5), username="release-robot",
                                                             email="alice@example.com")]), ("release-robot",))
    alice_pushes(github_repo, 6)
    bot, human = identity("github", login="release-robot"), identity("github", login="alice")
    with db.connection_context():
        human_developer = Developer.get_by_id(human.developer_id)
    assert bot.developer_id != human.developer_id and not human_developer.is_bot


# Pull requests and reviews --------------------------------------------------------------------------------

def pull_state(number: int) -> tuple[str, str, datetime | None]:
    with db.connection_context():
        pull = PullRequest.get(PullRequest.number == number)
        return pull.state, pull.title, pull.provider_updated_at


def test_an_older_copy_of_a_pull_request_does_not_overwrite_a_newer_one(github_repo: Repository) -> None:
    # given: the merge arrives first (a redelivery, or a poll raced a hook)
    merged = p.github_pull(number=7, state="closed", title="Teach the widget to fly (v2)", merged=True,
                           updated_at="2026-11-30T15:00:00Z", closed_at="2026-11-30T15:00:00Z",
                           merged_at="2026-11-30T15:00:00Z", merge_commit_sha=p.sha(77))
    hook(github_repo, "pull_request", p.github_pull_request_event(merged, action="closed"))
    # when: the copy from when it was opened comes later
    opened = p.github_pull(number=7, updated_at="2026-11-30T09:00:00Z")
    hook(github_repo, "pull_request", p.github_pull_request_event(opened))
    # then
    assert pull_state(7) == ("merged", "Teach the widget to fly (v2)", datetime(2026, 11, 30, 15))
    assert count(PullRequest) == 1


def test_a_newer_copy_of_a_pull_request_overwrites_the_stored_one(github_repo: Repository) -> None:
    hook(github_repo, "pull_request", p.github_pull_request_event(p.github_pull(number=7)))
    closed = p.github_pull(number=7, state="closed", title="Never mind", updated_at="2026-11-30T10:00:00Z",
                           closed_at="2026-11-30T10:00:00Z")
    hook(github_repo, "pull_request", p.github_pull_request_event(closed, action="closed"))
    assert pull_state(7) == ("closed", "Never mind", datetime(2026, 11, 30, 10))


def test_a_review_event_keeps_the_pull_requests_counts(github_repo: Repository) -> None:
    """The review's short pull request has no counts; the stored ones stay."""
    pull = p.github_pull(number=7, additions=120, deletions=30)
    hook(github_repo, "pull_request", p.github_pull_request_event(pull))
    hook(github_repo, "pull_request_review", p.github_review_event(pull))
    with db.connection_context():
        stored = PullRequest.get(PullRequest.number == 7)
    assert (stored.additions, stored.deletions) == (120, 30)


def test_reviews_of_an_unknown_pull_request_are_skipped_until_it_is_seen(github_repo: Repository) -> None:
    review = ReviewRecord(pull_number=77, external_id="900", author=Person("github", user_id="2002", login="hubot"),
                          state="approved", submitted_at=datetime(2026, 11, 30, 12))
    skipped = poll(github_repo, Activity(reviews=[review]))
    assert skipped["reviews"] == 0 and count(Review) == 0
    pull = PullRecord(number=77, title="Wings", author=Person("github", user_id="1001", login="alice"), state="open",
                      opened_at=datetime(2026, 11, 30, 9), updated_at=datetime(2026, 11, 30, 12))
    stored = poll(github_repo, Activity(pulls=[pull], reviews=[review]))
    assert stored["reviews"] == 1 and count(Review) == 1


def test_a_review_brought_twice_is_one_row_with_its_latest_state(gitlab_repo: Repository) -> None:
    approver = p.gitlab_user(60, "maint", "Maintainer")
    for action in ("approved", "unapproved"):
        hook(gitlab_repo, "Merge Request Hook", p.gitlab_merge_request(
            p.gitlab_merge_request_attributes(iid=5, author_id=51, action=action), user=approver))
    with db.connection_context():
        reviews = [(r.external_id, r.state) for r in Review.select()]
    reviewer = one(Review).identity_id
    assert reviews == [("approval-60", "dismissed")]
    assert reviewer == identity("gitlab", provider_user_id="60").id


def test_a_gitlab_note_is_stored_as_a_commented_review(gitlab_repo: Repository) -> None:
    merge_request = p.gitlab_merge_request_attributes(iid=6, author_id=51, action=None)
    hook(gitlab_repo, "Note Hook", p.gitlab_note_on_merge_request(merge_request, note_id=1244))
    review = one(Review)
    pull = one(PullRequest, PullRequest.id == review.pull_request_id)
    assert (review.external_id, review.state, review.submitted_at) == ("note-1244", "commented",
                                                                       datetime(2026, 11, 30, 12))
    assert pull.number == 6 and pull.identity_id == identity("gitlab", provider_user_id="51").id


# Merge and split ------------------------------------------------------------------------------------------

def two_developers(github_repo: Repository, org: Organization) -> tuple[Developer, Developer]:
    """alice's GitHub account (one commit) and her home laptop's git email (one commit, via GitLab): two people
    as far as the rules can tell."""
    alice_pushes(github_repo, 1)
    hook(make_repository(org, "gitlab"), "Push Hook",
         p.gitlab_push([p.gitlab_commit(p.sha(2), email="alice@home.example")]))
    with db.connection_context():
        return (Developer.get_by_id(identity("github", login="alice").developer_id),
                Developer.get_by_id(identity("git").developer_id))


def test_merge_moves_identities_activity_and_teams_and_deletes_the_source(
        github_repo: Repository, org: Organization) -> None:
    # given: alice (target) in Platform; her laptop identity (source) in Platform and Mobile
    target, source = two_developers(github_repo, org)
    owner = create_user("owner")
    with db.connection_context():
        platform, mobile = Team.create(organization=org, name="Platform"), Team.create(organization=org, name="Mobile")
        TeamMember.create(team=platform, developer=target)
        TeamMember.create(team=platform, developer=source)
        TeamMember.create(team=mobile, developer=source)
        laptop = identity("git").id
        # when
        moved = identities.merge(org.id, source, target, owner.id, "same person, by owner")
        teams = sorted(m.team.id for m in TeamMember.select().where(TeamMember.developer == target.id))
        source_left = Developer.get_or_none(Developer.id == source.id)
    # then
    assert moved == [laptop]
    assert source_left is None and count(Developer) == 1
    assert identity("git").developer_id == target.id
    assert commit(p.sha(2)).developer_id == target.id and commit(p.sha(1)).developer_id == target.id
    assert teams == sorted([platform.id, mobile.id]) and count(TeamMember) == 2
    [change] = changes()
    assert (change.action, change.from_developer_id, change.to_developer_id) == ("merge", source.id, target.id)
    assert (change.identity_ids, change.reason, change.changed_by_id) == ([laptop], "same person, by owner",
                                                                          owner.id)


def test_merging_a_developer_into_itself_loses_nothing(github_repo: Repository) -> None:
    alice_pushes(github_repo)
    with db.connection_context():
        alice = Developer.get()
        try:
            identities.merge(alice.organization_id, alice, alice, None, "oops")
        except ValueError:
            pass  # refusing is as good as doing nothing
    assert count(Developer) == 1 and count(DeveloperIdentity) == 1
    assert commit(p.sha(1)).developer_id == alice.id


def test_split_moves_chosen_identities_and_their_activity_to_a_new_developer(
        github_repo: Repository, org: Organization) -> None:
    # given: one developer with two identities (joined by alice's verified email), a commit and a review each
    alice_pushes(github_repo, 1)
    gitlab_repo = make_repository(org, "gitlab")
    hook(gitlab_repo, "Push Hook", p.gitlab_push([p.gitlab_commit(p.sha(2), name="Al at home",
                                                                  email="alice@example.com")]))
    account, git = identity("github", login="alice"), identity("git")
    assert account.developer_id == git.developer_id  # joined
    with db.connection_context():
        alice = Developer.get_by_id(account.developer_id)
        # when
        fresh = identities.split(org.id, alice, [git.id], None, "shared laptop")
    # then
    assert fresh.id != alice.id and count(Developer) == 2
    assert (fresh.name, fresh.email, fresh.is_bot) == ("Al at home", "alice@example.com", False)
    assert identity("git").developer_id == fresh.id and identity("github").developer_id == alice.id
    assert commit(p.sha(2)).developer_id == fresh.id and commit(p.sha(1)).developer_id == alice.id
    split_change = changes()[-1]
    assert (split_change.action, split_change.from_developer_id, split_change.to_developer_id) == (
        "split", alice.id, fresh.id)
    assert (split_change.identity_ids, split_change.reason) == ([git.id], "shared laptop")


def test_split_moves_only_the_developers_own_identities(github_repo: Repository, org: Organization) -> None:
    alice, home = two_developers(github_repo, org)
    home_identity = identity("git").id  # the other developer's
    hook(github_repo, "push", p.github_push([p.github_commit(p.sha(3), username=None, name="Alice",
                                                             email="alice@example.com")]))
    alice_git = identity("git", provider_user_id="alice@example.com").id
    with db.connection_context():
        identities.split(org.id, alice, [alice_git, home_identity], None, "by owner")
    assert identity("git", provider_user_id="alice@home.example").developer_id == home.id
    assert commit(p.sha(2)).developer_id == home.id


# Hook deliveries ------------------------------------------------------------------------------------------

def deliveries() -> list[HookDelivery]:
    with db.connection_context():
        return list(HookDelivery.select().order_by(HookDelivery.id))


def test_a_delivery_is_stored_once_with_its_outbox_row(github_repo: Repository) -> None:
    payload = p.github_push([p.github_commit(p.sha(1)), p.github_commit(p.sha(2), username=None)])
    with db.connection_context():
        # when: the provider delivers, then redelivers the same delivery id
        first = receiver.receive(github_repo, "72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", payload, ingest_hook)
        again = receiver.receive(github_repo, "72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", payload, ingest_hook)
        messages = [(m.actor_name, m.args) for m in OutboxMessage.select()]
    # then
    assert first is not None and again is None
    delivery, message = first
    assert [(d.id, d.status, d.event, d.payload) for d in deliveries()] == [(delivery.id, "pending", "push",
                                                                              payload)]
    assert messages == [("ingest_hook", [delivery.id])] and message.actor_name == "ingest_hook"
    assert count(Commit) == 0  # nothing is ingested until the worker runs


def test_the_same_delivery_id_for_another_repository_is_another_delivery(
        github_repo: Repository, org: Organization) -> None:
    other = make_repository(org, "github", "acme/gadgets")
    with db.connection_context():
        assert receiver.receive(github_repo, "d-1", "ping", p.github_ping(), ingest_hook) is not None
        assert receiver.receive(other, "d-1", "ping", p.github_ping(), ingest_hook) is not None
    assert len(deliveries()) == 2


def test_a_stored_delivery_is_ingested_once_and_marked_done(github_repo: Repository) -> None:
    # given
    payload = p.github_push([p.github_commit(p.sha(1)), p.github_commit(p.sha(2), username=None)])
    with db.connection_context():
        stored = receiver.receive(github_repo, "d-1", "push", payload, ingest_hook)
    assert stored is not None
    delivery_id = stored[0].id
    # when
    with db.connection_context():
        outcome = receiver.process(delivery_id, ())
    [done] = deliveries()
    with db.connection_context():
        again = receiver.process(delivery_id, ())
    [after] = deliveries()
    # then
    stored_counts = {"commits": 2, "pull_requests": 0, "reviews": 0}
    assert outcome == {**stored_counts, "organization_id": github_repo.organization_id}  # whose views are stale
    assert (done.status, done.outcome, done.error) == ("done", stored_counts, None) and done.processed_at is not None
    assert again == {"skipped": "already ingested"}
    assert (after.status, after.processed_at, after.outcome) == ("done", done.processed_at, stored_counts)
    assert count(Commit) == 2 and count(DeveloperIdentity) == 2


def test_a_gitlab_delivery_is_read_as_gitlab(gitlab_repo: Repository) -> None:
    payload = p.gitlab_merge_request(p.gitlab_merge_request_attributes(iid=3, action="approved", author_id=51),
                                     user=p.gitlab_user(60, "maint", "Maintainer"))
    with db.connection_context():
        stored = receiver.receive(gitlab_repo, "6a1f-uuid", "Merge Request Hook", payload, ingest_hook)
        assert stored is not None
        outcome = receiver.process(stored[0].id, ())
    assert outcome == {"commits": 0, "pull_requests": 1, "reviews": 1, "organization_id": gitlab_repo.organization_id}
    assert count(PullRequest) == 1 and count(Review) == 1


def test_a_delivery_of_an_event_not_read_is_done_with_nothing_stored(github_repo: Repository) -> None:
    with db.connection_context():
        stored = receiver.receive(github_repo, "d-ping", "ping", p.github_ping(), ingest_hook)
        assert stored is not None
        outcome = receiver.process(stored[0].id, ())
    assert outcome == {"commits": 0, "pull_requests": 0, "reviews": 0, "organization_id": github_repo.organization_id}
    assert [d.status for d in deliveries()] == ["done"] and count(Commit) == 0


def test_a_stored_body_that_no_longer_reads_fails_the_delivery_and_stores_nothing(github_repo: Repository) -> None:
    with db.connection_context():
        stored = receiver.receive(github_repo, "d-bad", "push", {"commits": "not a list"}, ingest_hook)
        assert stored is not None
        outcome = receiver.process(stored[0].id, ())
    [failed] = deliveries()
    assert outcome == {"failed": "commits must be a list"}
    assert (failed.status, failed.error) == ("failed", "commits must be a list") and count(Commit) == 0


def test_processing_an_unknown_delivery_is_skipped(app: Flask) -> None:
    with db.connection_context():
        assert receiver.process(987654, ()) == {"skipped": "no such delivery"}


# Secrets at rest ------------------------------------------------------------------------------------------

READ_SECRET = "SELECT hook_secret, token FROM repository WHERE id = ?"
PLANT_SECRET = "UPDATE repository SET hook_secret = ? WHERE id = ?"


def raw_sql(query: str) -> str:
    """The query with the database's own placeholder (`?` for SQLite, `%s` for PostgreSQL)."""
    return query.replace("?", db.param)


def test_the_hook_secret_is_encrypted_at_rest_and_read_back_plain(github_repo: Repository) -> None:
    with db.connection_context():
        raw = db.execute_sql(raw_sql(READ_SECRET), (github_repo.id,)).fetchone()
        read = Repository.get_by_id(github_repo.id)
    assert raw[0].startswith("fernet:") and HOOK_SECRET not in raw[0]
    assert raw[1] is None  # no token: NULL, not an encrypted empty string
    assert (read.hook_secret, read.token) == (HOOK_SECRET, None)


def test_a_plain_value_in_an_encrypted_column_is_refused_on_read(github_repo: Repository) -> None:
    with db.connection_context():
        db.execute_sql(raw_sql(PLANT_SECRET), ("planted-plain-text", github_repo.id))
        with pytest.raises(ValueError, match="not encrypted"):
            Repository.get_by_id(github_repo.id)


def test_a_rotated_key_ring_reads_what_the_old_key_wrote() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    written = KeyRing([old]).encrypt("ghp_token")
    rotated = KeyRing([new, old])
    assert rotated.decrypt(written) == "ghp_token"
    rewritten = rotated.encrypt("ghp_token")  # the first key writes
    assert KeyRing([new]).decrypt(rewritten) == "ghp_token"
    with pytest.raises(SecretUnreadable):
        KeyRing([old]).decrypt(rewritten)


def test_a_ring_without_the_key_or_an_altered_value_cannot_read_a_secret() -> None:
    written = KeyRing([Fernet.generate_key().decode()]).encrypt("whsec")
    with pytest.raises(SecretUnreadable):
        KeyRing([Fernet.generate_key().decode()]).decrypt(written)
    tampered = written[:-6] + ("AAAAAA" if not written.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(SecretUnreadable):
        KeyRing([Fernet.generate_key().decode()]).decrypt(tampered)
    with pytest.raises(ValueError):
        KeyRing([])


def test_without_encryption_keys_the_key_is_derived_from_the_secret_key() -> None:
    written = key_ring(TEST_SECRET, ()).encrypt("whsec")
    assert KeyRing([derived_key(TEST_SECRET)]).decrypt(written) == "whsec"
    assert derived_key(TEST_SECRET) == derived_key(TEST_SECRET) != derived_key(TEST_SECRET + "x")
    with pytest.raises(SecretUnreadable):
        key_ring(TEST_SECRET + "x", ()).decrypt(written)


def test_a_new_account_named_by_login_and_by_id_in_one_batch_is_one_identity(github_repo: Repository) -> None:
    """A push (the author by login) and a pull request (by account id and login) of a person not seen before,
    in one batch: the identity made for the first is the second's too, and takes the account id over."""
    by_login = Person("github", login="newbie", name="New Bie", email="newbie@example.com", email_verified=True)
    by_id = Person("github", user_id="4242", login="newbie")
    activity = Activity(commits=[CommitRecord(p.sha(9), by_login, None, None, "First")],
                        pulls=[PullRecord(9, "First change", by_id, "open", None, None)])
    with db.connection_context():
        ingest(github_repo, activity)
    with db.connection_context():
        (only,) = DeveloperIdentity.select().where(DeveloperIdentity.login == "newbie")
    assert only.provider_user_id == "4242" and count(Developer) == 1
    assert commit(p.sha(9)).identity_id == only.id
