"""Organizations, their members (users, as owner or member) and their teams (nested, with developers).

A user sees the organizations they are a member of (admins: all); owners and admins change one."""
from __future__ import annotations

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.user import User

MEMBER_ROLES = ("owner", "member")


class Organization(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=200)
    description = peewee.TextField(null=True)
    settings = JSONField(default=dict)  # {timezone (IANA), default_language}
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)


class OrganizationMember(BaseModel):
    organization = peewee.ForeignKeyField(Organization, backref="members", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="organizations", on_delete="CASCADE")
    role = peewee.CharField(max_length=16, default="member")
    created_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        primary_key = peewee.CompositeKey("organization", "user")


class Team(BaseModel):
    organization_id: int
    parent_id: int | None
    id = peewee.AutoField()
    organization = peewee.ForeignKeyField(Organization, backref="teams", on_delete="CASCADE")
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="SET NULL")
    name = peewee.CharField(max_length=200)
    description = peewee.TextField(null=True)
    external_id = peewee.CharField(max_length=255, null=True)  # the team's id in an HR system or IdP
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("organization", "external_id"), True),)
