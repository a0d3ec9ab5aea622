"""Fields and schemas every resource shares: UTC timestamps, list arguments and list envelopes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma

from api.routing import MAX_ID
from core.timeutil import isoformat


class UtcDateTime(ma.fields.DateTime):
    """Dumps naive-UTC or aware datetimes as ISO 8601 with a `Z`."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return isoformat(value)


def row_id(**kwargs: Any) -> ma.fields.Integer:
    """A row's id in a query or a body: 1 up to the largest the database holds (`api.routing.MAX_ID`)."""
    return ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class ListArgsSchema(StrictSchema):
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=1_000_000))


class MessageSchema(ma.Schema):
    message = ma.fields.String(required=True)


_page_schemas: dict[str, type[ma.Schema]] = {}


def page_of(item: type[ma.Schema]) -> type[ma.Schema]:
    """`{items, total, limit, offset}` around `item`; one class per item schema, for OpenAPI."""
    name = f"{item.__name__.removesuffix('Schema')}PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (ma.Schema,), {
            "items": ma.fields.List(ma.fields.Nested(item), required=True),
            "total": ma.fields.Integer(required=True),
            "limit": ma.fields.Integer(required=True),
            "offset": ma.fields.Integer(required=True),
        })
    return _page_schemas[name]


def page(query: Any, args: dict[str, int]) -> dict[str, Any]:
    """Slice a peewee query (already ordered) into the list envelope."""
    return {"items": list(query.limit(args["limit"]).offset(args["offset"])),
            "total": query.count(), "limit": args["limit"], "offset": args["offset"]}


class FullMatch(ma.validate.Regexp):
    """A Regexp that must match the whole value: `$` alone lets a trailing newline through.
    The pattern stays plain `^...$`, so OpenAPI clients can use it as is."""

    def __call__(self, value: str) -> str:  # type: ignore[override]
        pattern: Any = self.regex
        if pattern.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value
