"""Reading and checking configuration values one at a time: each parser names the variable in its error, and a
value it refuses stops the process (`ConfigError`). `core.settings` builds the settings from them."""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from dotenv import dotenv_values

from core.crypto import valid_key

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_RATE = re.compile(r"^\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?$", re.IGNORECASE)
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the process must not start."""


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def parse_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def parse_rate(name: str, raw: str) -> str:
    if not _RATE.fullmatch(raw.strip()):
        raise ConfigError(f"{name} must look like '60/minute', got {raw!r}")
    return raw.strip()


def parse_keys(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated Fernet keys (`cryptography`'s `Fernet.generate_key()`), newest first."""
    keys = tuple(filter(None, (part.strip() for part in raw.split(","))))
    if not all(valid_key(key) for key in keys):
        raise ConfigError(f"{name} must be Fernet keys (32 url-safe base64 bytes each), comma-separated")
    return keys


def parse_user(name: str, raw: str | None) -> str | None:
    """A login name (as useradd takes it), or None when unset."""
    if raw is None:
        return None
    if not _USER.fullmatch(raw) or raw == "root":
        raise ConfigError(f"{name} must name an unprivileged local user such as 'nobody', got {raw!r}")
    return raw


def parse_directory(name: str, raw: str | None) -> Path | None:
    """An absolute directory path, or None when unset."""
    if raw is None:
        return None
    if not raw.startswith("/") or "\0" in raw:
        raise ConfigError(f"{name} must be an absolute path, got {raw!r}")
    return Path(raw)


def parse_intervals(name: str, raw: str) -> dict[str, int]:
    """`job=seconds,job=seconds`: intervals that replace those of the job table."""
    intervals: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        job, sep, seconds = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z_]+", job.strip()):
            raise ConfigError(f"{name} must look like 'poll_clusters=30,sweep_outbox=15', got {raw!r}")
        intervals[job.strip()] = parse_int(name, seconds, 1, 86_400)
    return intervals


def parse_origins(name: str, raw: str) -> tuple[str, ...]:
    """`https://app.example.com,http://localhost:5173`: scheme, host and port, nothing after; or `*` alone (any
    origin). Empty: no origin is allowed."""
    origins = tuple(dict.fromkeys(filter(None, (part.strip() for part in raw.split(",")))))
    if "*" in origins and len(origins) > 1:
        raise ConfigError(f"{name} is either '*' alone or a list of origins, got {raw!r}")
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ConfigError(f"{name} must list origins such as 'https://app.example.com' (scheme, host and "
                              f"port, no path or trailing slash), got {origin!r}")
    return origins


def parse_url(name: str, raw: str, *, production: bool = False) -> str:
    """An absolute http(s) URL without credentials or fragment; https only in production (but for localhost)."""
    match = re.fullmatch(r"(https?)://([^/@\s?#]+)(/[^\s#]*)?", raw)
    local = match is not None and re.fullmatch(r"(localhost|127\.0\.0\.1|\[::1\])(:\d+)?", match.group(2)) is not None
    if not match or (production and match.group(1) != "https" and not local):
        kind = "an https" if production else "an http(s)"
        raise ConfigError(f"{name} must be {kind} URL without credentials or fragment, got {raw!r}")
    return raw


def read_environment(environ: Mapping[str, str] | None = None, env_file: str | None = ".env") -> dict[str, str]:
    """The process environment over the `.env` file: a real variable always wins."""
    merged: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


class Reader:
    """Reads typed values from a mapping, naming the variable in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        return default if value is None or value.strip() == "" else value.strip()

    def flag(self, name: str, default: bool) -> bool:
        raw = self.env.get(name)
        return default if raw is None or raw.strip() == "" else parse_bool(name, raw)

    def number(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.env.get(name)
        return default if raw is None or raw.strip() == "" else parse_int(name, raw, low, high)

    def choice(self, name: str, default: str, allowed: tuple[str, ...], transform: Callable[[str], str]) -> str:
        value = transform(self.text(name, default) or default)
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def rate(self, name: str, default: str) -> str:
        return parse_rate(name, self.text(name, default) or default)
