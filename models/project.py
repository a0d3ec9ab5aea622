"""Projects: a git repository and the steps a build runs on it."""
from __future__ import annotations

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.user import User


class Project(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=64, unique=True)
    repo_url = peewee.CharField(max_length=1024)
    default_branch = peewee.CharField(max_length=255, default="main")
    build_steps = JSONField(default=list)
    env = JSONField(default=dict)
    created_by = peewee.ForeignKeyField(User, backref="projects", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)

    def editable_by(self, user: User) -> bool:
        return user.role == "admin" or self.created_by_id == user.id  # type: ignore[attr-defined]
