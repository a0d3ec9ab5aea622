"""One settings object, built from the environment (and an optional `.env`) when a process starts."""
from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from core.cache import ENTRIES
from core.config_values import (
    ConfigError,
    Reader,
    parse_directory,
    parse_intervals,
    parse_keys,
    parse_origins,
    parse_rate,
    parse_url,
    parse_user,
    read_environment,
)
from core.roles import ROLES

ENVIRONMENTS = ("development", "test", "production")
_TIER = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
STANDARD_TIER = "standard"  # everyone's tier unless an admin names another: RATE_LIMIT_USER
DEFAULT_TIERS = "premium=600/minute"
# Accounts whose activity is a bot's though their login lacks `[bot]` (GitHub Apps' logins have it).
DEFAULT_BOT_LOGINS = "dependabot,renovate,renovate-bot,github-actions,gitlab-bot,project_bot,group_bot"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class GitHubSignIn:
    """Sign in with GitHub (docs/github-sign-in.md): off unless both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET
    are set. GitHub Enterprise Server is GITHUB_OAUTH_URL and GITHUB_API_URL pointed at it."""

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    oauth_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    redirect_uris: tuple[str, ...] = ()
    default_role: str = "user"
    allow_private: bool = False  # OAUTH_ALLOW_PRIVATE: a GitHub Enterprise (or a test's fake) on a private address
    timeout_seconds: int = 10

    @property
    def enabled(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def public(self) -> dict[str, Any]:
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "client_secret"}
        return {**shown, "enabled": self.enabled}


@dataclass(frozen=True)
class Settings:
    env: str
    host: str
    port: int
    var_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    encryption_keys: tuple[str, ...]
    admin_username: str
    admin_password: str | None
    webhook_allow_private: bool
    webhook_disable_after: int
    webhook_attempt_grace: int
    rate_limits_enabled: bool
    rate_limit_user: str
    rate_limit_anonymous: str
    rate_limit_api_key: str
    rate_limit_builds: str
    rate_limit_analyses: str
    rate_limit_users_list: str
    rate_limit_login: str
    rate_limit_tiers: dict[str, str]
    rate_limit_hooks: str
    worker_processes: int
    worker_threads: int
    worker_timeout_ms: int
    access_token_ttl: int
    refresh_token_ttl: int
    max_body_bytes: int
    idempotency_ttl: int
    idempotency_lock_ttl: int
    scheduler_lock_ttl: int
    scheduler_intervals: dict[str, int]
    build_max_seconds: int
    build_user: str | None
    repo_allow_private: bool
    repo_allow_local: bool
    workspace_dir: Path | None
    task_stale_seconds: int
    metrics_retention_days: int
    poll_allow_private: bool
    poll_timeout_seconds: int
    restart_alert_threshold: int
    cache_max_bytes: int
    cache_ttls: dict[str, int]
    api_threads: int
    log_level: str
    access_log: bool
    api_info: dict[str, Any]
    bot_logins: tuple[str, ...]
    github: GitHubSignIn
    audit_retention_days: int
    cors_origins: tuple[str, ...]
    cors_allow_credentials: bool
    trust_proxy_tls: bool

    @property
    def production(self) -> bool:
        return self.env == "production"

    def public(self) -> dict[str, Any]:
        """Settings safe to show an operator: secrets and credentials left out."""
        hidden = {"secret_key", "encryption_keys", "admin_password", "database_url", "redis_url"}
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in hidden}
        shown["github"] = self.github.public()
        shown["var_dir"] = str(self.var_dir)
        shown["workspace_dir"] = str(self.workspace_dir) if self.workspace_dir else None
        return shown


def parse_tiers(name: str, raw: str) -> dict[str, str]:
    """`name=rate,name=rate`: the named tiers an admin can put a user in, each replacing RATE_LIMIT_USER for
    its users. `standard` is the tier of everyone else and cannot be redefined here."""
    tiers: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        tier, sep, rate = item.partition("=")
        tier = tier.strip()
        if not sep or not _TIER.fullmatch(tier):
            raise ConfigError(f"{name} must look like 'premium=600/minute,partner=3000/minute', got {raw!r}")
        if tier == STANDARD_TIER or tier in tiers:
            raise ConfigError(f"{name} names the tier {tier!r} twice (or redefines 'standard'), got {raw!r}")
        tiers[tier] = parse_rate(name, rate)
    return tiers


def _cors_credentials(r: Reader, origins: tuple[str, ...]) -> bool:
    """Credentials (cookies, HTTP auth) cross-origin only for origins named one by one, never for `*`."""
    allowed = r.flag("CORS_ALLOW_CREDENTIALS", False)
    if allowed and origins == ("*",):
        raise ConfigError("CORS_ALLOW_CREDENTIALS=true needs CORS_ORIGINS to name its origins, not '*'")
    return allowed


def _secret_key(reader: Reader, var_dir: Path, production: bool) -> str:
    key = reader.text("SECRET_KEY")
    if key is not None:
        if len(key) < 32 and production:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        return key
    if production:
        raise ConfigError("SECRET_KEY is required when CONVEYOR_ENV=production")
    return _generated_secret(var_dir)


def _generated_secret(var_dir: Path) -> str:
    """A development key, generated once into VAR_DIR so that every local process shares it."""
    path = var_dir / "secret_key"
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_urlsafe(48)
        handle.write(key)
    return key


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | None = ".env") -> Settings:
    """Build the settings; raises ConfigError naming the first bad or missing variable."""
    r = Reader(read_environment(environ, env_file))
    env = r.choice("CONVEYOR_ENV", "development", ENVIRONMENTS, str.lower)
    production = env == "production"
    if production:
        missing = [n for n in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL") if r.text(n) is None]
        if missing:
            raise ConfigError(f"CONVEYOR_ENV=production requires {', '.join(missing)}")
    var_dir = Path(r.text("VAR_DIR", "var") or "var").absolute()
    redis_url = r.text("REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://, got {redis_url!r}")
    database_url = r.text("DATABASE_URL", f"sqlite:///{var_dir / 'conveyor.db'}") or ""
    if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
        raise ConfigError(f"DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {database_url!r}")
    cors_origins = parse_origins("CORS_ORIGINS", r.text("CORS_ORIGINS") or "")
    return Settings(
        env=env,
        host=r.text("HOST", "127.0.0.1") or "127.0.0.1",
        port=r.number("PORT", 8000, 1, 65535),
        var_dir=var_dir,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=_secret_key(r, var_dir, production),
        encryption_keys=parse_keys("ENCRYPTION_KEYS", r.text("ENCRYPTION_KEYS") or ""),
        admin_username=r.text("ADMIN_USERNAME", "admin") or "admin",
        admin_password=r.text("ADMIN_PASSWORD"),
        webhook_allow_private=r.flag("WEBHOOK_ALLOW_PRIVATE", False),
        webhook_disable_after=r.number("WEBHOOK_DISABLE_AFTER_SECONDS", 5 * 86_400, 0, 90 * 86_400),
        webhook_attempt_grace=r.number("WEBHOOK_ATTEMPT_GRACE_SECONDS", 30, 1, 3600),
        rate_limits_enabled=r.flag("RATE_LIMITS_ENABLED", True),
        rate_limit_user=r.rate("RATE_LIMIT_USER", "60/minute"),
        rate_limit_anonymous=r.rate("RATE_LIMIT_ANONYMOUS", "100/minute"),
        rate_limit_api_key=r.rate("RATE_LIMIT_API_KEY", "1000/hour"),
        rate_limit_builds=r.rate("RATE_LIMIT_BUILDS", "10/minute"),
        rate_limit_analyses=r.rate("RATE_LIMIT_ANALYSES", "5/minute"),
        rate_limit_users_list=r.rate("RATE_LIMIT_USERS_LIST", "10/minute"),
        rate_limit_login=r.rate("RATE_LIMIT_LOGIN", "10/minute"),
        rate_limit_hooks=r.rate("RATE_LIMIT_HOOKS", "600/minute"),
        rate_limit_tiers=parse_tiers("RATE_LIMIT_TIERS", r.text("RATE_LIMIT_TIERS", DEFAULT_TIERS) or ""),
        worker_processes=r.number("WORKER_PROCESSES", 1, 1, 64),
        worker_threads=r.number("WORKER_THREADS", 8, 1, 256),
        worker_timeout_ms=r.number("WORKER_TIMEOUT_MS", 100, 10, 10_000),
        access_token_ttl=r.number("ACCESS_TOKEN_TTL", 1800, 30, 86_400),
        refresh_token_ttl=r.number("REFRESH_TOKEN_TTL", 7 * 86_400, 60, 90 * 86_400),
        max_body_bytes=r.number("MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
        idempotency_ttl=r.number("IDEMPOTENCY_TTL_SECONDS", 86_400, 1, 7 * 86_400),
        idempotency_lock_ttl=r.number("IDEMPOTENCY_LOCK_SECONDS", 60, 1, 3600),
        scheduler_lock_ttl=r.number("SCHEDULER_LOCK_TTL", 10, 2, 300),
        scheduler_intervals=parse_intervals("SCHEDULER_INTERVALS", r.text("SCHEDULER_INTERVALS") or ""),
        build_max_seconds=r.number("BUILD_MAX_SECONDS", 7200, 10, 86_400),
        build_user=parse_user("BUILD_USER", r.text("BUILD_USER")),
        repo_allow_private=r.flag("REPO_ALLOW_PRIVATE", False),
        repo_allow_local=r.flag("REPO_ALLOW_LOCAL", not production),
        workspace_dir=parse_directory("WORKSPACE_DIR", r.text("WORKSPACE_DIR")),
        task_stale_seconds=r.number("TASK_STALE_SECONDS", 60, 3, 3600),
        metrics_retention_days=r.number("METRICS_RETENTION_DAYS", 7, 1, 3650),
        poll_allow_private=r.flag("POLL_ALLOW_PRIVATE", False),
        poll_timeout_seconds=r.number("POLL_TIMEOUT_SECONDS", 10, 1, 120),
        restart_alert_threshold=r.number("KUBERNETES_RESTART_ALERT_THRESHOLD", 5, 1, 100_000),
        cache_max_bytes=r.number("CACHE_MAX_BYTES", 64 * 1024 * 1024, 1024 * 1024, 64 * 1024 ** 3),
        cache_ttls={entry: r.number(f"CACHE_TTL_{entry.upper()}", ttl, 1, 86_400) for entry, ttl in ENTRIES.items()},
        api_threads=r.number("API_THREADS", 256, 4, 4096),
        log_level=r.choice("LOG_LEVEL", "INFO", _LOG_LEVELS, str.upper),
        access_log=r.flag("ACCESS_LOG", True),
        api_info=api_info(r),
        bot_logins=tuple(login.strip().lower() for login in (r.text("BOT_LOGINS", DEFAULT_BOT_LOGINS) or "").split(",")
                         if login.strip()),
        github=github_sign_in(r, production),
        audit_retention_days=r.number("AUDIT_RETENTION_DAYS", 365, 1, 36_500),
        cors_origins=cors_origins,
        cors_allow_credentials=_cors_credentials(r, cors_origins),
        trust_proxy_tls=r.flag("TRUST_PROXY_TLS", False),
    )


def github_sign_in(r: Reader, production: bool) -> GitHubSignIn:
    """GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (both or neither), GITHUB_OAUTH_URL, GITHUB_API_URL,
    OAUTH_REDIRECT_URIS (comma-separated; the only places a sign-in may return to), OAUTH_DEFAULT_ROLE,
    OAUTH_ALLOW_PRIVATE and GITHUB_TIMEOUT_SECONDS."""
    client_id, client_secret = r.text("GITHUB_CLIENT_ID"), r.text("GITHUB_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        raise ConfigError("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET must be set together")
    uris = tuple(parse_url("OAUTH_REDIRECT_URIS", uri.strip(), production=production)
                 for uri in (r.text("OAUTH_REDIRECT_URIS") or "").split(",") if uri.strip())
    if client_id and not uris:
        raise ConfigError("OAUTH_REDIRECT_URIS must name at least one URL when GITHUB_CLIENT_ID is set")
    return GitHubSignIn(
        client_id=client_id, client_secret=client_secret,
        oauth_url=parse_url("GITHUB_OAUTH_URL", r.text("GITHUB_OAUTH_URL", "https://github.com") or "",
                            production=production).rstrip("/"),
        api_url=parse_url("GITHUB_API_URL", r.text("GITHUB_API_URL", "https://api.github.com") or "",
                          production=production).rstrip("/"),
        redirect_uris=uris,
        default_role=r.choice("OAUTH_DEFAULT_ROLE", "user", ROLES, str.lower),
        allow_private=r.flag("OAUTH_ALLOW_PRIVATE", False),
        timeout_seconds=r.number("GITHUB_TIMEOUT_SECONDS", 10, 1, 60),
    )


def api_info(r: Reader) -> dict[str, Any]:
    """OpenAPI's `info` contact, license and terms of service (seeds 000 and 004), from API_CONTACT_NAME,
    API_CONTACT_EMAIL, API_CONTACT_URL, API_LICENSE_NAME (MIT), API_LICENSE_URL, API_TERMS_URL."""
    for name in ("API_CONTACT_URL", "API_LICENSE_URL", "API_TERMS_URL"):
        value = r.text(name)
        if value is not None and not re.fullmatch(r"https?://[^\s]+", value):
            raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    email = r.text("API_CONTACT_EMAIL")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ConfigError(f"API_CONTACT_EMAIL must be an email address, got {email!r}")
    contact = {key: value for key, value in (("name", r.text("API_CONTACT_NAME")), ("email", email),
                                             ("url", r.text("API_CONTACT_URL"))) if value}
    info: dict[str, Any] = {"license": {"name": r.text("API_LICENSE_NAME", "MIT"),
                                        "url": r.text("API_LICENSE_URL", "https://opensource.org/licenses/MIT")}}
    if contact:
        info["contact"] = contact
    if r.text("API_TERMS_URL"):
        info["termsOfService"] = r.text("API_TERMS_URL")
    return info
