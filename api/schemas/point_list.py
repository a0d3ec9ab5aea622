"""The `metrics` list of an ingest request, validated by hand.

A nested marshmallow schema per point was most of the cost of a large ingest batch (docs/benchmarks.md).
`PointList` is documented in OpenAPI as the list of `MetricPointInSchema` it stands for, and checks each
point with `PointRules.check`, which applies the same rules by hand, far faster, and reports errors in
marshmallow's shape (`{index: {field: [message]}}`). `tests/domain/test_point_validation.py` holds the two to the
same verdicts.
Points come out as the rows `models.metric.insert_points` takes.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma

from models.db import utc_naive

Row = tuple[str, float, str | None, dict[str, str], datetime]
FIELDS = frozenset(("name", "value", "unit", "timestamp", "tags"))
MISSING, NULL = "Missing data for required field.", "Field may not be null."


@dataclass
class Seen:
    """What one batch has already found valid: names, tag keys and timestamps repeat across its points,
    so each distinct one is checked (or parsed) once."""

    names: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    stamps: dict[str, datetime] = field(default_factory=dict)


class PointError(Exception):
    def __init__(self, messages: dict[str, Any]) -> None:
        self.messages = messages


class PointRules:
    """The rules of MetricPointInSchema, compiled once."""

    def __init__(self, name: str, name_rule: str, tag_key: str, tag_key_rule: str, max_tags: int) -> None:
        self.name, self.name_rule = re.compile(name), name_rule
        self.tag_key, self.tag_key_rule = re.compile(tag_key), tag_key_rule
        self.max_tags = max_tags

    def check(self, point: Any, now: datetime, seen: Seen | None = None) -> Row:
        seen = Seen() if seen is None else seen
        if not isinstance(point, dict):
            raise PointError({"_schema": ["Invalid input type."]})
        errors: dict[str, Any] = {} if FIELDS.issuperset(point) else {
            key: ["Unknown field."] for key in point.keys() - FIELDS}
        name = self._name(point.get("name"), errors, seen)
        value = self._value(point.get("value", ...), errors)
        unit = _unit(point.get("unit"), errors)
        stamp = _timestamp(point.get("timestamp"), now, errors, seen)
        tags = self._tags(point.get("tags", {}), errors, seen)
        if errors:
            raise PointError(errors)
        return name, value, unit, tags, stamp

    def _name(self, name: Any, errors: dict[str, Any], seen: Seen) -> str:
        if not isinstance(name, str):
            errors["name"] = [MISSING if name is None else "Not a valid string."]
        elif name not in seen.names:
            if self.name.fullmatch(name) is None:
                errors["name"] = [self.name_rule]
            else:
                seen.names.add(name)
        return name

    @staticmethod
    def _value(value: Any, errors: dict[str, Any]) -> float:
        if value is ... or value is None:
            errors["value"] = [MISSING if value is ... else NULL]
            return 0.0
        try:
            number = float(value) if value is not True and value is not False else math.nan
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if not math.isfinite(number):
            errors["value"] = ["Not a valid finite number."]
        return number

    def _tags(self, tags: Any, errors: dict[str, Any], seen: Seen) -> dict[str, str]:
        if not isinstance(tags, dict):
            errors["tags"] = ["Not a valid mapping type."]
            return {}
        problems = {key: ["Not a valid tag: " + self.tag_key_rule + "; values are strings of up to 256."]
                    for key, value in tags.items()
                    if not (self._key(key, seen) and isinstance(value, str) and len(value) <= 256)}
        if len(tags) > self.max_tags:
            problems["_schema"] = [f"At most {self.max_tags} tags."]
        if problems:
            errors["tags"] = problems
        return tags

    def _key(self, key: Any, seen: Seen) -> bool:
        if isinstance(key, str) and (key in seen.keys or self.tag_key.fullmatch(key)):
            seen.keys.add(key)
            return True
        return False


def _unit(unit: Any, errors: dict[str, Any]) -> str | None:
    if unit is not None and not (isinstance(unit, str) and 1 <= len(unit) <= 32):
        errors["unit"] = ["A string of 1 to 32 characters."]
    return unit


def _timestamp(stamp: Any, now: datetime, errors: dict[str, Any], seen: Seen) -> datetime:
    if stamp is None:
        return now
    if isinstance(stamp, str) and stamp in seen.stamps:
        return seen.stamps[stamp]
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        errors["timestamp"] = ["Not a valid datetime."]
        return now
    moment = moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
    seen.stamps[stamp] = moment
    return moment


class PointList(ma.fields.List):
    """A List of MetricPointInSchema for OpenAPI; loads into rows through `rules`."""

    def __init__(self, rules: PointRules, documented: type[ma.Schema], **kwargs: Any) -> None:
        super().__init__(ma.fields.Nested(documented), **kwargs)
        self.rules = rules

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        now, rows, errors, seen = utc_naive(), list[Row](), {}, Seen()
        for index, point in enumerate(value):
            try:
                rows.append(self.rules.check(point, now, seen))
            except PointError as error:
                errors[index] = error.messages
        if errors:
            raise ma.ValidationError(errors)
        return rows
