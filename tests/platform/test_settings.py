"""Configuration: strict parsing, production requirements, `.env` files, the generated key."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.settings import ConfigError, load_settings
from tests.conftest import ROOT


def settings_from(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings({"VAR_DIR": str(tmp_path), **env}, env_file=None)


def test_defaults_point_at_var_dir(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)
    assert settings.env == "development" and settings.port == 8000 and settings.host == "127.0.0.1"
    assert settings.database_url == f"sqlite:///{tmp_path / 'conveyor.db'}"
    assert settings.redis_url is None
    assert settings.rate_limits_enabled is True and settings.webhook_allow_private is False
    assert (settings.worker_processes, settings.worker_threads) == (1, 8)


@pytest.mark.parametrize("raw, expected", [("true", True), ("FALSE", False), ("1", True), ("off", False)])
def test_booleans_accept_only_clear_words(tmp_path: Path, raw: str, expected: bool) -> None:
    assert settings_from(tmp_path, RATE_LIMITS_ENABLED=raw).rate_limits_enabled is expected


@pytest.mark.parametrize("name, raw", [
    ("RATE_LIMITS_ENABLED", "maybe"), ("WEBHOOK_ALLOW_PRIVATE", "ture"),
    ("PORT", "80a"), ("PORT", "70000"), ("PORT", "0"), ("WORKER_THREADS", "-1"), ("WORKER_PROCESSES", "1.5"),
    ("CONVEYOR_ENV", "staging"), ("LOG_LEVEL", "LOUD"), ("RATE_LIMIT_USER", "lots"),
    ("REDIS_URL", "http://localhost"), ("DATABASE_URL", "mysql://x/y"),
    ("SCHEDULER_INTERVALS", "poll_clusters"), ("SCHEDULER_INTERVALS", "poll_clusters=0"),
    ("SCHEDULER_INTERVALS", "poll_clusters=soon"),
    ("BUILD_USER", "root"), ("BUILD_USER", "Bad User"), ("BUILD_USER", "-x"), ("WORKSPACE_DIR", "ws"),
    ("REPO_ALLOW_PRIVATE", "sure"), ("REPO_ALLOW_LOCAL", "2"),
    ("CACHE_TTL_WEBHOOKS_LIST", "0"), ("CACHE_TTL_DASHBOARD", "5m"), ("CACHE_TTL_ALERTS_LIST", "86401"),
    ("API_CONTACT_EMAIL", "ops"), ("API_CONTACT_URL", "javascript:alert(1)"), ("API_TERMS_URL", "ftp://x/terms"),
    ("API_LICENSE_URL", "https://a b"),
    ("RATE_LIMIT_TIERS", "premium"), ("RATE_LIMIT_TIERS", "premium=lots"), ("RATE_LIMIT_TIERS", "Gold=1/second"),
    ("RATE_LIMIT_TIERS", "standard=1000/minute"), ("RATE_LIMIT_TIERS", "gold=1/second,gold=2/second"),
    ("ENCRYPTION_KEYS", "not-a-key"), ("ENCRYPTION_KEYS", "a" * 43 + "=,short"),
    ("AUDIT_RETENTION_DAYS", "0"), ("AUDIT_RETENTION_DAYS", "a year"), ("TRUST_PROXY_TLS", "yes please"),
    ("CORS_ORIGINS", "app.example.com"), ("CORS_ORIGINS", "https://app.example.com/"),
    ("CORS_ORIGINS", "https://app.example.com/path"), ("CORS_ORIGINS", "*, https://app.example.com"),
    ("CORS_ORIGINS", "https://*.example.com"), ("CORS_ALLOW_CREDENTIALS", "perhaps"),
])
def test_bad_values_are_start_up_errors_naming_the_variable(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        settings_from(tmp_path, **{name: raw})


def test_rate_limit_tiers_are_read_by_name_and_default_to_premium(tmp_path: Path) -> None:
    assert settings_from(tmp_path).rate_limit_tiers == {"premium": "600/minute"}
    assert settings_from(tmp_path, RATE_LIMIT_TIERS=" gold=1000/minute, partner = 50 per second ,").rate_limit_tiers \
        == {"gold": "1000/minute", "partner": "50 per second"}
    assert settings_from(tmp_path, RATE_LIMIT_TIERS=" ").rate_limit_tiers == {"premium": "600/minute"}


def test_encryption_keys_are_read_newest_first_and_never_shown(tmp_path: Path) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = settings_from(tmp_path, ENCRYPTION_KEYS=f"{new}, {old}")
    assert settings.encryption_keys == (new, old)
    assert "encryption_keys" not in settings.public() and new not in str(settings.public())
    assert settings_from(tmp_path).encryption_keys == ()  # derived from SECRET_KEY (core.crypto)


def test_cors_audit_and_tls_settings_default_to_the_safe_side(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)
    assert settings.cors_origins == () and settings.cors_allow_credentials is False
    assert settings.trust_proxy_tls is False and settings.audit_retention_days == 365
    named = settings_from(tmp_path, CORS_ORIGINS=" https://a.example.com, http://localhost:5173 ,https://a.example.com",
                          CORS_ALLOW_CREDENTIALS="true", AUDIT_RETENTION_DAYS="30", TRUST_PROXY_TLS="true")
    assert named.cors_origins == ("https://a.example.com", "http://localhost:5173")
    assert named.cors_allow_credentials and named.trust_proxy_tls and named.audit_retention_days == 30


def test_credentials_are_refused_for_any_origin(tmp_path: Path) -> None:
    assert settings_from(tmp_path, CORS_ORIGINS="*").cors_origins == ("*",)
    with pytest.raises(ConfigError, match="CORS_ALLOW_CREDENTIALS"):
        settings_from(tmp_path, CORS_ORIGINS="*", CORS_ALLOW_CREDENTIALS="true")


def test_bot_logins_are_a_lower_cased_list(tmp_path: Path) -> None:
    assert settings_from(tmp_path, BOT_LOGINS=" Ci-Robot ,deploy-bot,").bot_logins == ("ci-robot", "deploy-bot")
    assert "dependabot" in settings_from(tmp_path).bot_logins


def test_production_refuses_to_start_without_its_services(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY, DATABASE_URL, REDIS_URL"):
        settings_from(tmp_path, CONVEYOR_ENV="production")
    with pytest.raises(ConfigError, match="REDIS_URL"):
        settings_from(tmp_path, CONVEYOR_ENV="production", SECRET_KEY="k" * 40,
                      DATABASE_URL="postgresql://db/conveyor")
    with pytest.raises(ConfigError, match="32 characters"):
        settings_from(tmp_path, CONVEYOR_ENV="production", SECRET_KEY="short",
                      DATABASE_URL="postgresql://db/conveyor", REDIS_URL="redis://r:6379/0")
    ok = settings_from(tmp_path, CONVEYOR_ENV="production", SECRET_KEY="k" * 40,
                       DATABASE_URL="postgresql://db/conveyor", REDIS_URL="redis://r:6379/0")
    assert ok.production and not (tmp_path / "secret_key").exists()


def test_local_repositories_are_allowed_outside_production_only(tmp_path: Path) -> None:
    assert settings_from(tmp_path).repo_allow_local is True
    assert settings_from(tmp_path, CONVEYOR_ENV="test").repo_allow_local is True
    production = {"CONVEYOR_ENV": "production", "SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://db/c",
                  "REDIS_URL": "redis://r:6379/0"}
    assert settings_from(tmp_path, **production).repo_allow_local is False
    assert settings_from(tmp_path, **production, REPO_ALLOW_LOCAL="true").repo_allow_local is True
    assert settings_from(tmp_path).repo_allow_private is False


def test_development_key_is_generated_once_and_shared(tmp_path: Path) -> None:
    first = settings_from(tmp_path).secret_key
    assert len(first) >= 32
    assert settings_from(tmp_path).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9001\nWORKER_THREADS=3\n")
    settings = load_settings({"VAR_DIR": str(tmp_path), "WORKER_THREADS": "5"}, env_file=str(env_file))
    assert (settings.port, settings.worker_threads) == (9001, 5)


def test_public_view_hides_secrets(tmp_path: Path) -> None:
    shown = settings_from(tmp_path, SECRET_KEY="s" * 40, ADMIN_PASSWORD="hunter2hunter2").public()
    assert "secret_key" not in shown and "admin_password" not in shown and "redis_url" not in shown
    assert "s" * 40 not in repr(shown)


@pytest.mark.parametrize("module", ["scheduler", "core.supervisor"])
def test_processes_exit_with_a_clear_message_on_bad_config(tmp_path: Path, module: str) -> None:
    result = subprocess.run([sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "PORT": "eighty"})
    assert result.returncode == 2
    assert "configuration error: PORT must be a whole number" in result.stderr


def test_worker_exits_on_bad_config(tmp_path: Path) -> None:
    dramatiq = Path(sys.executable).parent / "dramatiq"
    result = subprocess.run([str(dramatiq), "workers.setup:configure", "--processes", "1", "--threads", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "WORKER_THREADS": "many"})
    assert result.returncode != 0
    assert "WORKER_THREADS must be a whole number" in result.stderr


GITHUB_APP = {"GITHUB_CLIENT_ID": "Iv1.abc", "GITHUB_CLIENT_SECRET": "s3cret-value-0123",
              "OAUTH_REDIRECT_URIS": "https://ci.example.com/, https://ci.example.com/app/oauth"}


def test_github_sign_in_is_off_unless_its_client_is_set(tmp_path: Path) -> None:
    assert settings_from(tmp_path).github.enabled is False
    github = settings_from(tmp_path, **GITHUB_APP, GITHUB_OAUTH_URL="https://ghe.example.com/",
                           GITHUB_API_URL="https://ghe.example.com/api/v3").github
    assert github.enabled and github.default_role == "user" and github.allow_private is False
    assert github.redirect_uris == ("https://ci.example.com/", "https://ci.example.com/app/oauth")
    assert (github.oauth_url, github.api_url) == ("https://ghe.example.com", "https://ghe.example.com/api/v3")
    shown = settings_from(tmp_path, **GITHUB_APP).public()
    assert "s3cret-value-0123" not in repr(shown) and "s3cret-value-0123" not in repr(settings_from(tmp_path,
                                                                                                    **GITHUB_APP))


@pytest.mark.parametrize("overrides", [
    {"GITHUB_CLIENT_SECRET": ""}, {"GITHUB_CLIENT_ID": ""}, {"OAUTH_REDIRECT_URIS": ""},
    {"OAUTH_REDIRECT_URIS": "ci.example.com/callback"}, {"OAUTH_REDIRECT_URIS": "https://u:p@ci.example.com/"},
    {"OAUTH_REDIRECT_URIS": "https://ci.example.com/#frag"}, {"GITHUB_OAUTH_URL": "ftp://github.com"},
    {"GITHUB_API_URL": "not a url"}, {"OAUTH_DEFAULT_ROLE": "root"}, {"OAUTH_ALLOW_PRIVATE": "sure"},
    {"GITHUB_TIMEOUT_SECONDS": "0"},
])
def test_bad_github_sign_in_settings_refuse_to_start(tmp_path: Path, overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        settings_from(tmp_path, **{**GITHUB_APP, **overrides})


def test_production_wants_https_for_github_but_for_localhost(tmp_path: Path) -> None:
    production = {"CONVEYOR_ENV": "production", "SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://db/x",
                  "REDIS_URL": "redis://r:6379/0", **GITHUB_APP}
    with pytest.raises(ConfigError):
        settings_from(tmp_path, **{**production, "OAUTH_REDIRECT_URIS": "http://ci.example.com/"})
    uris = settings_from(tmp_path, **{**production, "OAUTH_REDIRECT_URIS": "http://localhost:8000/"}).github.redirect_uris
    assert uris == ("http://localhost:8000/",)
