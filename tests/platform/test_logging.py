"""Logs never carry SQL parameters (password hashes, tokens, webhook secrets), even at LOG_LEVEL=DEBUG."""
from __future__ import annotations

import logging

from core.logging import configure_logging
from models.db import db
from models.user import User


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_debug_logging_never_shows_query_parameters(schema: None) -> None:
    configure_logging("DEBUG")
    kept = Kept()
    logging.getLogger().addHandler(kept)
    try:
        with db.connection_context():
            User.select().where(User.username == "a-secret-looking-value").first()
        logging.getLogger("conveyor.test").debug("debug lines still get through")
        assert [r.getMessage() for r in kept.records if r.name == "conveyor.test"]
        assert [r for r in kept.records if "a-secret-looking-value" in str(r.__dict__)] == []
    finally:
        logging.getLogger().removeHandler(kept)
        configure_logging("WARNING")
