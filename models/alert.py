"""Alert rules and the alerts they raise.

A rule compares an aggregation of a metric over the last `window_minutes`, per tag set, to a fixed
`threshold` or to `baseline_factor` times the same aggregation over the 7 days before the window.
An alert stays open (pending, then maybe acknowledged) while its condition holds, and there is at most
one open alert per rule and tag set: `open_key` is unique, and set only while the alert is open.
"""
from __future__ import annotations

from datetime import datetime

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.user import User

AGGREGATIONS = ("avg", "max", "min", "count", "p50", "p95", "p99")
COMPARISONS = ("gt", "lt")
SEVERITIES = ("INFO", "WARNING", "CRITICAL")
STATUSES = ("pending", "acknowledged", "resolved")
OPEN = ("pending", "acknowledged")


class AlertRule(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=100, unique=True)
    metric = peewee.CharField(max_length=128)
    aggregation = peewee.CharField(max_length=8)
    comparison = peewee.CharField(max_length=2)
    threshold = peewee.DoubleField(null=True)
    baseline_factor = peewee.DoubleField(null=True)
    window_minutes = peewee.IntegerField()
    severity = peewee.CharField(max_length=8)
    is_active = peewee.BooleanField(default=True)
    created_by = peewee.ForeignKeyField(User, backref="alert_rules", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)


class Alert(BaseModel):
    id = peewee.AutoField()
    rule = peewee.ForeignKeyField(AlertRule, backref="alerts", null=True, on_delete="SET NULL")
    rule_name = peewee.CharField(max_length=100)
    metric = peewee.CharField(max_length=128)
    tags = JSONField(default=dict)
    severity = peewee.CharField(max_length=8, index=True)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    message = peewee.TextField()
    context = JSONField(default=dict)
    open_key = peewee.CharField(max_length=600, null=True, unique=True)
    # Set for alerts about something a user owns (their cluster): only they and admins see those.
    owner_id = peewee.IntegerField(null=True, index=True)
    created_at = peewee.DateTimeField(default=utc_naive, index=True)
    acknowledged_at = peewee.DateTimeField(null=True)
    acknowledged_by = peewee.CharField(max_length=64, null=True)
    resolved_at = peewee.DateTimeField(null=True)

    @property
    def updated_at(self) -> datetime:
        """The alert's last change: raised, acknowledged or resolved (an alert changes only those three ways)."""
        return max(moment for moment in (self.created_at, self.acknowledged_at, self.resolved_at) if moment)

    @staticmethod
    def visible_to(user_id: int, admin: bool) -> peewee.Expression | bool:
        """Rule alerts are everyone's; an owned alert is its owner's and the admins'."""
        return True if admin else (Alert.owner_id.is_null() | (Alert.owner_id == user_id))

    @staticmethod
    def key(rule_id: int, tags_text: str) -> str:
        return f"{rule_id}|{tags_text}"
