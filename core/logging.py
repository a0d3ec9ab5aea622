"""Structured JSON logs on stderr, carrying the request id when there is one."""
from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar

from core.timeutil import from_timestamp, isoformat

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": isoformat(from_timestamp(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Replace the root handlers with one JSON handler; safe to call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every run at INFO; our scheduler logs what matters itself.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    # peewee logs every query with its parameters at DEBUG: passwords' hashes, tokens, webhook secrets.
    # Never, even with LOG_LEVEL=DEBUG.
    logging.getLogger("peewee").setLevel(max(logging.INFO, root.level))
