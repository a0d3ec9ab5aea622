"""Developers: the people behind activity in an organization's repositories, each with one or more identities
(a GitHub or GitLab account, or a bare git author email), and their teams.

Identities join a developer automatically when they share a provider account or a verified email; an owner
corrects that with merge and split, and every join and split is recorded with its reason."""
from __future__ import annotations

from typing import Any

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.organization import Organization, Team
from models.user import User

IDENTITY_PROVIDERS = ("github", "gitlab", "git")  # git: an author seen only by name and email


class Developer(BaseModel):
    organization_id: int
    user_id: int | None
    identities: Any  # backref: DeveloperIdentity
    id = peewee.AutoField()
    organization = peewee.ForeignKeyField(Organization, backref="developers", on_delete="CASCADE")
    name = peewee.CharField(max_length=255)
    email = peewee.CharField(max_length=254, null=True)
    is_bot = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)
    # The Conveyor user this developer is: set when someone signs in with (or links) the GitHub account of
    # one of the developer's identities (domain.github_sign_in.accounts), cleared when they unlink it.
    user = peewee.ForeignKeyField(User, null=True, backref="developers", on_delete="SET NULL")


class DeveloperIdentity(BaseModel):
    developer_id: int
    id = peewee.AutoField()
    organization = peewee.ForeignKeyField(Organization, on_delete="CASCADE")
    developer = peewee.ForeignKeyField(Developer, backref="identities", on_delete="CASCADE")
    provider = peewee.CharField(max_length=16)
    # The provider's account id (GitHub's numeric user id, GitLab's), or the email for `git` identities.
    provider_user_id = peewee.CharField(max_length=255)
    login = peewee.CharField(max_length=255, null=True)
    name = peewee.CharField(max_length=255, null=True)
    is_bot = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("organization", "provider", "provider_user_id"), True),)


class IdentityEmail(BaseModel):
    """An email seen with an identity; `verified` when the provider tied it to the account."""

    identity_id: int
    identity = peewee.ForeignKeyField(DeveloperIdentity, backref="emails", on_delete="CASCADE")
    organization = peewee.ForeignKeyField(Organization, on_delete="CASCADE")
    email = peewee.CharField(max_length=254)
    verified = peewee.BooleanField(default=False)

    class Meta:
        primary_key = peewee.CompositeKey("identity", "email")
        indexes = ((("organization", "email", "verified"), False),)


class TeamMember(BaseModel):
    team_id: int
    developer_id: int
    team = peewee.ForeignKeyField(Team, backref="members", on_delete="CASCADE")
    developer = peewee.ForeignKeyField(Developer, backref="teams", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        primary_key = peewee.CompositeKey("team", "developer")


class IdentityChange(BaseModel):
    """One merge or split: which identities moved from which developer to which, why, and by whom."""

    id = peewee.AutoField()
    organization = peewee.ForeignKeyField(Organization, on_delete="CASCADE")
    action = peewee.CharField(max_length=8)  # merge | split
    from_developer_id = peewee.IntegerField()
    to_developer_id = peewee.IntegerField()
    identity_ids = JSONField(default=list)
    reason = peewee.CharField(max_length=255)  # "same github account", "verified email x@y", "by owner", ...
    changed_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utc_naive)
