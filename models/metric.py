"""Metric points, raw: what teams push and what the platform records about itself.

`tags` are kept as canonical JSON (sorted keys, no spaces), so one tag set has one spelling: it can be
grouped on, and a `key=value` filter is a substring test on `"key":"value"`.
"""
from __future__ import annotations

import json

import peewee

from models.db import BaseModel, JSONField, is_postgres


class MetricPoint(BaseModel):
    id = peewee.BigAutoField()
    name = peewee.CharField(max_length=128)
    value = peewee.DoubleField()
    unit = peewee.CharField(max_length=32, null=True)
    timestamp = peewee.DateTimeField()
    tags = JSONField(default=dict)

    class Meta:
        indexes = ((("name", "timestamp"), False),)

    @classmethod
    def tagged(cls, key: str, value: str) -> peewee.Expression:
        """Points whose tags include `key=value` (exact, case-sensitive)."""
        needle = json.dumps({key: value}, separators=(",", ":"))[1:-1]
        position = peewee.fn.strpos(cls.tags, needle) if is_postgres() else peewee.fn.instr(cls.tags, needle)
        return position > 0
