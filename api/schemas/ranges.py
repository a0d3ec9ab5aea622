"""Date ranges in query strings (`start_date`, `end_date`), as the analytics take them: a date or a date-time,
a bare end date counting its whole day, the end after the start and at most two years later."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import marshmallow as ma

from api.schemas.common import StrictSchema

MAX_RANGE = timedelta(days=731)
EARLIEST, LATEST = datetime(1970, 1, 1), datetime(9000, 1, 1)  # room for the previous span and a bare end date


class DayOrMoment(ma.fields.AwareDateTime):
    """A date (`2026-11-01`) or a date-time; as an end, a bare date includes that whole day."""

    def __init__(self, end: bool = False, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)
        self.end = end

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            moment = super()._deserialize(value, attr, data, **kwargs).astimezone(UTC).replace(tzinfo=None)
            return moment + timedelta(days=1) if self.end and isinstance(value, str) and len(value) == 10 else moment
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class RangeArgsSchema(StrictSchema):
    start_date = DayOrMoment(required=True)
    end_date = DayOrMoment(end=True, required=True, metadata={"description": "A bare date counts its whole day."})

    @ma.validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_range(data.get("start_date"), data.get("end_date"))


def check_range(start: datetime | None, end: datetime | None) -> None:
    """The end after the start and at most MAX_RANGE later, the start between EARLIEST and LATEST."""
    if start is not None and end is not None and not start < end <= start + MAX_RANGE:
        raise ma.ValidationError("end_date must be after start_date, and at most 731 days later.", "end_date")
    if start is not None and not EARLIEST <= start <= LATEST:
        raise ma.ValidationError(f"Between {EARLIEST.year} and {LATEST.year}.", "start_date")
