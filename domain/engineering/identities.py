"""Who an activity's author is: the identity (a provider account, or a bare git email) and the developer it
belongs to, within one organization.

Rules (docs/engineering.md):
- An account is found by its provider id; a login seen without an id (GitHub's push hook) finds the account
  by login, or stands in (`login:<login>`) until the id is seen, which then takes the stand-in over.
- An author known only by email is a `git` identity keyed by that email.
- A new identity joins an existing developer when it shares a verified email with one of that developer's
  identities, or when it is a `git` email that another identity has verified; otherwise it is a new developer.
- Bots (`[bot]` logins, a bot account type, BOT_LOGINS) are developers marked `is_bot`, left out of figures.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import peewee

from domain.engineering.records import BOT_SUFFIX, Person
from models.activity import Commit, PullRequest, Review
from models.db import db, is_postgres, reserve_ids, tuples, utc_naive
from models.developer import Developer, DeveloperIdentity, IdentityChange, IdentityEmail, TeamMember
from models.user import User


def is_bot(person: Person, bot_logins: Iterable[str]) -> bool:
    login = (person.login or "").lower()
    return person.bot or login.endswith(BOT_SUFFIX) or login in {b.lower() for b in bot_logins}


def _key(person: Person) -> tuple[str, str]:
    if person.provider != "git" and person.user_id:
        return person.provider, person.user_id
    if person.provider != "git" and person.login:
        return person.provider, f"login:{person.login}"
    return "git", (person.email or "").strip().lower()


def _find(org_id: int, person: Person) -> DeveloperIdentity | None:
    return _find_all(org_id, [person])[0]


def _find_all(org_id: int, people: list[Person]) -> list[DeveloperIdentity | None]:
    """Each person's identity, if known: two queries a provider for the lot, however many people."""
    keys = [_key(person) for person in people]
    by_key: dict[tuple[str, str], DeveloperIdentity] = {}
    by_login: dict[tuple[str, str], DeveloperIdentity] = {}
    for provider in {provider for provider, _ in keys}:
        wanted = [key for p, key in keys if p == provider]
        for identity in DeveloperIdentity.select().where(DeveloperIdentity.organization == org_id,
                                                         DeveloperIdentity.provider == provider,
                                                         DeveloperIdentity.provider_user_id << wanted):
            by_key[(provider, identity.provider_user_id)] = identity
        logins = [p.login for p, (prov, key) in zip(people, keys, strict=True)
                  if prov == provider and provider != "git" and p.login and (prov, key) not in by_key]
        if logins:
            for identity in (DeveloperIdentity.select().where(DeveloperIdentity.organization == org_id,
                                                              DeveloperIdentity.provider == provider,
                                                              DeveloperIdentity.login << logins)
                             .order_by(DeveloperIdentity.id.desc())):
                by_login[(provider, str(identity.login))] = identity  # the oldest wins
    return [by_key.get(key) or _by_login(person, by_login.get((key[0], person.login or "")))
            for person, key in zip(people, keys, strict=True)]


def _by_login(person: Person, found: DeveloperIdentity | None) -> DeveloperIdentity | None:
    """An account seen by login before its id was (or the other way round) is the same account; but only a
    stand-in takes an id over: a login now held by another account (after a rename) is another identity."""
    if found is None or person.provider == "git" or not person.login:
        return None
    if person.user_id:
        if not found.provider_user_id.startswith("login:"):
            return None
        found.provider_user_id = person.user_id
        found.save(only=[DeveloperIdentity.provider_user_id])
    return found


def _email(person: Person) -> str:
    return (person.email or "").strip().lower()


class _Owners:
    """Who already holds each email a batch of new people may join by: identities that have it verified (the
    oldest first), and `git` identities keyed by it, read in two queries for the batch; the batch's own new
    identities are added as they are made, so a later person of the batch can join an earlier one."""

    def __init__(self, org_id: int, people: list[Person]) -> None:
        emails = list({_email(p) for p in people if _email(p) and (p.provider == "git" or p.email_verified)})
        self.verified: dict[str, DeveloperIdentity] = {}
        self.git: dict[str, DeveloperIdentity] = {}
        if not emails:
            return
        # a bot's identity is never joined by a person
        for row in (DeveloperIdentity.select(DeveloperIdentity, IdentityEmail.email.alias("verified_email"))
                    .join(IdentityEmail)
                    .where(IdentityEmail.organization == org_id, IdentityEmail.email << emails,
                           IdentityEmail.verified == True, DeveloperIdentity.is_bot == False)  # noqa: E712
                    .order_by(DeveloperIdentity.id.desc()).objects()):
            self.verified[row.verified_email] = row  # type: ignore[attr-defined]  # the oldest is read last: it wins
        for row in DeveloperIdentity.select().where(
                DeveloperIdentity.organization == org_id, DeveloperIdentity.provider == "git",
                DeveloperIdentity.provider_user_id << emails, DeveloperIdentity.is_bot == False):  # noqa: E712
            self.git[row.provider_user_id] = row

    def joined_developer(self, person: Person) -> tuple[int | None, str | None]:
        """The developer a new identity joins, and why; (None, None) for a new developer. A `git` email joins
        the identity that has it verified; a verified email joins that too, or else the `git` identity of it."""
        email = _email(person)
        if not email or not (person.provider == "git" or person.email_verified):
            return None, None
        owner = self.verified.get(email) or (None if person.provider == "git" else self.git.get(email))
        return (owner.developer_id, f"verified email {email}") if owner is not None else (None, None)

    def add(self, identity: DeveloperIdentity, person: Person) -> None:
        email = _email(person)
        if not email or identity.is_bot:
            return
        if person.provider == "git":
            self.git.setdefault(email, identity)
        elif person.email_verified:
            self.verified.setdefault(email, identity)


def _remember_all(org_id: int, sightings: list[tuple[DeveloperIdentity, Person]]) -> None:
    """Keep what newer sightings add: logins, names, emails (and whether they are verified); the emails already
    known are read in one query, so a page of known authors writes nothing."""
    ids = {identity.id for identity, _ in sightings}
    known = {(row.identity_id, row.email): row.verified for row in
             IdentityEmail.select().where(IdentityEmail.identity << list(ids))} if ids else {}
    for identity, person in sightings:
        email = (person.email or "").strip().lower()[:254]
        verified = person.email_verified and person.provider != "git"
        seen = known.get((identity.id, email))
        _remember(org_id, identity, person, email=bool(email) and (seen is None or (verified and not seen)))
        if email:
            known[(identity.id, email)] = bool(seen) or verified


def _remember(org_id: int, identity: DeveloperIdentity, person: Person, email: bool = True) -> None:
    """Keep what a newer sighting adds: the login, the name, an email (and whether it is verified)."""
    changed = []
    if person.login and identity.login != person.login:
        identity.login = person.login
        changed.append(DeveloperIdentity.login)
    if person.name and not identity.name:
        identity.name = person.name
        changed.append(DeveloperIdentity.name)
    if changed:
        identity.save(only=changed)
    address = (person.email or "").strip().lower()
    if address and email:
        verified = person.email_verified and person.provider != "git"
        insert = IdentityEmail.insert(identity=identity.id, organization=org_id, email=address[:254],
                                      verified=verified)
        if verified:
            insert.on_conflict(conflict_target=[IdentityEmail.identity, IdentityEmail.email],
                               update={IdentityEmail.verified: True}).execute()
        else:
            insert.on_conflict_ignore().execute()


def resolve(org_id: int, person: Person, bot_logins: Iterable[str] = ()) -> DeveloperIdentity | None:
    """The identity behind `person` in the organization, made (with its developer) when first seen. None
    when the provider named nobody."""
    return resolve_all(org_id, [person], bot_logins)[0]


def resolve_all(org_id: int, people: list[Person], bot_logins: Iterable[str] = ()) -> list[DeveloperIdentity | None]:
    """`resolve` for several people: those not known yet are made in one transaction (a backfill meets hundreds
    of new people, and a transaction each cost more than the rest of their page), locked in one order so two
    ingestions never wait for each other's locks. Should another ingestion have made one of them first (a
    unique key), each is made on its own."""
    known = [i for i, person in enumerate(people) if person.known]
    found: list[DeveloperIdentity | None] = [None] * len(people)
    for i, identity in zip(known, _find_all(org_id, [people[i] for i in known]), strict=True):
        found[i] = identity
    missing = sorted((i for i in known if found[i] is None), key=lambda i: _lock_name(org_id, people[i]))
    if missing:
        try:
            with db.atomic():
                _serialise(org_id, [people[i] for i in missing])
                # Under the locks (PostgreSQL) or the write lock (SQLite): made meanwhile by another ingestion?
                made: dict[tuple[str, str], DeveloperIdentity] = {}
                owners = _Owners(org_id, [people[i] for i in missing])
                rows = _NewRows(org_id, len(missing))
                for i, identity in zip(missing, _find_all(org_id, [people[i] for i in missing]), strict=True):
                    person = people[i]
                    made_now = identity or _made_in_batch(made, person) or _create(
                        person, is_bot(person, bot_logins), owners, rows)
                    found[i] = made[_key(person)] = made[(person.provider, f"@{person.login}")] = made_now
                rows.insert()
        except peewee.IntegrityError:
            for i in missing:
                found[i] = _made_alone(org_id, people[i], bot_logins)
    _remember_all(org_id, [(identity, person) for identity, person in zip(found, people, strict=True)
                           if identity is not None])
    return found


def _made_in_batch(made: dict[tuple[str, str], DeveloperIdentity], person: Person) -> DeveloperIdentity | None:
    """One of this batch's new identities, when `person` is the same account (by key, or by login as `_find`
    takes it): a push names a new person by login, a pull request of the same batch by account id."""
    return made.get(_key(person)) or _by_login(person, made.get((person.provider, f"@{person.login}")))


def _made_alone(org_id: int, person: Person, bot_logins: Iterable[str]) -> DeveloperIdentity:
    try:
        with db.atomic():
            _serialise(org_id, [person])
            identity = _find(org_id, person)
            if identity is None:
                rows = _NewRows(org_id, 1)
                identity = _create(person, is_bot(person, bot_logins), _Owners(org_id, [person]), rows)
                rows.insert()
            return identity
    except peewee.IntegrityError:  # another ingestion made it first
        identity = _find(org_id, person)
        if identity is None:
            raise
        return identity


def _lock_name(org_id: int, person: Person) -> str:
    provider, key = _key(person)
    return f"{org_id}:{provider}:{(person.login or key).lower()}"


def _serialise(org_id: int, people: list[Person]) -> None:
    """On PostgreSQL, one transaction at a time makes a given person's identity: a push (a login only) and a
    pull request (an account id) of a new person, ingested at once, would otherwise make two developers, since
    their keys differ. The lock is per organization, provider and login (or key), until the transaction ends;
    `ingest` resolves people before its own transaction, so the lock is held briefly. The people come sorted by
    lock name and the locks are taken in that order, in one statement (`unnest` yields an array in order).
    SQLite's transactions take the write lock when they begin: they never overlap."""
    if not is_postgres():
        return
    locks = [int.from_bytes(hashlib.blake2b(_lock_name(org_id, person).encode(), digest_size=8).digest(), "big",
                            signed=True) for person in people]
    db.execute_sql("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", (locks,))


class _NewRows:
    """The developers, identities, emails and join records a batch of new people needs, made in memory with ids
    taken up front (`reserve_ids`, at most one developer and one identity a person) and inserted together: a
    backfill meets hundreds of new people, and a round trip each for each row cost more than their commits."""

    def __init__(self, org_id: int, people: int) -> None:
        self.org_id = org_id
        self.developer_ids = reserve_ids(Developer, people)
        self.identity_ids = reserve_ids(DeveloperIdentity, people)
        self.developers: list[dict[str, Any]] = []
        self.identities: list[DeveloperIdentity] = []
        self.emails: dict[tuple[int, str], dict[str, Any]] = {}
        self.changes: list[dict[str, Any]] = []

    def developer(self, **fields: Any) -> int:
        developer_id = self.developer_ids[len(self.developers)]
        self.developers.append({"id": developer_id, "organization": self.org_id, **fields})
        return developer_id

    def identity(self, **fields: Any) -> DeveloperIdentity:
        identity = DeveloperIdentity(id=self.identity_ids[len(self.identities)], organization=self.org_id, **fields)
        self.identities.append(identity)
        return identity

    def email(self, identity: DeveloperIdentity, person: Person) -> None:
        address = _email(person)[:254]
        if address:
            self.emails[(identity.id, address)] = {
                "identity": identity.id, "organization": self.org_id, "email": address,
                "verified": person.email_verified and person.provider != "git"}

    def joined(self, developer_id: int, identity: DeveloperIdentity, reason: str) -> None:
        self.changes.append({"organization": self.org_id, "action": "merge", "from_developer_id": developer_id,
                             "to_developer_id": developer_id, "identity_ids": [identity.id], "reason": reason})

    def insert(self) -> None:
        """Everything planned, parents first. (An identity a later person of the batch turned from a login
        stand-in into an account was changed in memory: it is inserted as it is now.)"""
        if self.developers:
            Developer.insert_many(self.developers).execute()
        if self.identities:
            DeveloperIdentity.insert_many([i.__data__ for i in self.identities]).execute()
            self.link_signed_in()
        if self.emails:
            IdentityEmail.insert_many(list(self.emails.values())).on_conflict_ignore().execute()
        if self.changes:
            IdentityChange.insert_many(self.changes).execute()

    def link_signed_in(self) -> None:
        """The new GitHub identities of people who sign in to Conveyor with that GitHub account: their developers
        are theirs (a sign-in does the same for those seen before it: `github_sign_in.accounts.link_developers`)."""
        developers = {i.provider_user_id: i.developer_id for i in self.identities
                      if i.provider == "github" and i.provider_user_id.isdigit()}
        if not developers:
            return
        for user_id, github_id in tuples(User.select(User.id, User.github_id).where(
                User.github_id << [int(key) for key in developers])):
            Developer.update(user=user_id).where(Developer.id == developers[str(github_id)],
                                                 Developer.user.is_null()).execute()


def _create(person: Person, bot: bool, owners: _Owners, rows: _NewRows) -> DeveloperIdentity:
    provider, key = _key(person)
    developer_id, reason = (None, None) if bot else owners.joined_developer(person)
    if developer_id is None:
        developer_id = rows.developer(is_bot=bot, email=(person.email or None),
                                      name=person.name or person.login or person.email or f"{provider} user {key}")
    identity = rows.identity(developer=developer_id, provider=provider, provider_user_id=key, login=person.login,
                             name=person.name, is_bot=bot)
    if reason:
        rows.joined(developer_id, identity, reason)
    rows.email(identity, person)
    owners.add(identity, person)  # the next new person of the batch can join it
    return identity


def merge(org_id: int, source: Developer, target: Developer, by_user: int | None, reason: str) -> list[int]:
    """Move every identity (and its activity) of `source` to `target`, delete `source`, and record it."""
    if source.id == target.id or {source.organization_id, target.organization_id} != {org_id}:
        raise ValueError("merge needs two different developers of the organization")
    identities = [i.id for i in source.identities]
    with db.atomic():
        DeveloperIdentity.update(developer=target.id).where(DeveloperIdentity.developer == source.id).execute()
        for model in (Commit, PullRequest, Review):
            model.update(developer=target.id).where(model.developer == source.id).execute()
        _move_teams(source.id, target.id)
        _touch_pulls([target.id])
        IdentityChange.create(organization=org_id, action="merge", from_developer_id=source.id,
                              to_developer_id=target.id, identity_ids=identities, reason=reason, changed_by=by_user)
        source.delete_instance()
        Developer.update(updated_at=utc_naive()).where(Developer.id == target.id).execute()
    return identities


def split(org_id: int, developer: Developer, identity_ids: list[int], by_user: int | None, reason: str) -> Developer:
    """Move some identities (and their activity) of `developer` to a new developer, and record it."""
    moving = list(DeveloperIdentity.select().where(DeveloperIdentity.developer == developer.id,
                                                   DeveloperIdentity.id << identity_ids))
    if not moving:
        raise ValueError("split needs identities of the developer")
    identity_ids = [i.id for i in moving]  # only the developer's own
    with db.atomic():
        first = moving[0]
        email = IdentityEmail.select(IdentityEmail.email).where(IdentityEmail.identity == first.id).scalar()
        fresh = Developer.create(organization=org_id, name=first.name or first.login or first.provider_user_id,
                                 email=email, is_bot=first.is_bot)
        DeveloperIdentity.update(developer=fresh.id).where(DeveloperIdentity.id << identity_ids).execute()
        for model in (Commit, PullRequest, Review):  # by developer first: `commit.identity_id` has no index
            model.update(developer=fresh.id).where(model.developer == developer.id,
                                                   model.identity << identity_ids).execute()
        _touch_pulls([developer.id, fresh.id])
        IdentityChange.create(organization=org_id, action="split", from_developer_id=developer.id,
                              to_developer_id=fresh.id, identity_ids=identity_ids, reason=reason, changed_by=by_user)
    return fresh


def _touch_pulls(developer_ids: list[int]) -> None:
    """The pull requests these developers opened or reviewed changed: their cycles are measured again (who is the
    author and who picked a pull request up depend on who is who)."""
    reviewed = Review.select(Review.pull_request).where(Review.developer << developer_ids)
    PullRequest.update(changed_at=utc_naive()).where(
        (PullRequest.developer << developer_ids) | (PullRequest.id << reviewed)).execute()


def _move_teams(source_id: int, target_id: int) -> None:
    kept = {m.team_id for m in TeamMember.select(TeamMember.team).where(TeamMember.developer == target_id)}
    for member in TeamMember.select().where(TeamMember.developer == source_id):
        if member.team_id not in kept:
            TeamMember.create(team=member.team_id, developer=target_id)
    TeamMember.delete().where(TeamMember.developer == source_id).execute()
