"""URL converters: `<int:...>` path ids limited to what the database can hold."""
from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

# Row ids are PostgreSQL `integer`s (SQLite's are wider): a larger number names no row, so it must not
# reach the database, where it overflows (a 500) instead of finding nothing (a 404).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """Werkzeug's `int` converter with MAX_ID as its maximum: a larger id matches no route (404). OpenAPI
    documents the bound (flask-smorest reads `max` from any IntegerConverter)."""

    def __init__(self, url_map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits, min, max, signed)
