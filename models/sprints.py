"""Sprints, and which sprint each issue was in over time (velocity, `domain.engineering.velocity`).

A team's sprints come from its repositories' milestones (GitHub milestones, GitLab milestones and iterations) or
are created for the team (`Sprint`): a created sprint names its dates and the milestone title its issues carry.
`IssueChange` records each issue's milestone and points from the moment ingestion saw them change, so a sprint's
planned points are those of the issues in it when it started, however the issues moved since."""
from __future__ import annotations

import peewee

from models.activity import Issue
from models.db import BaseModel, utc_naive
from models.organization import Team


class Sprint(BaseModel):
    team_id: int
    id = peewee.AutoField()
    team = peewee.ForeignKeyField(Team, backref="sprints", on_delete="CASCADE", index=False)
    name = peewee.CharField(max_length=255)
    start_on = peewee.DateField()
    end_on = peewee.DateField()  # the last day of the sprint
    milestone_title = peewee.CharField(max_length=255)  # the milestone (or iteration) its issues carry
    created_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("team", "name"), True),)


class IssueChange(BaseModel):
    id = peewee.AutoField()
    issue = peewee.ForeignKeyField(Issue, backref="changes", on_delete="CASCADE", index=False)
    # A plain id: a milestone deleted at the provider stays deleted here only with its repository.
    milestone_id = peewee.IntegerField(null=True)
    points = peewee.IntegerField(null=True)
    changed_at = peewee.DateTimeField()  # from then on the issue was in that milestone with those points

    class Meta:
        indexes = ((("issue", "changed_at"), False), (("milestone_id",), False))
