"""Users and their password hashes."""
from __future__ import annotations

import functools
import uuid

import peewee
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

from core.roles import ROLES
from models.db import BaseModel, db, is_postgres, utc_naive
from models.session import RevokedSession

__all__ = ["ROLES", "UNUSABLE_PASSWORD", "User", "hash_password", "new_stamp", "verify_password"]


@functools.cache
def hasher() -> PasswordHasher:
    """argon2id at OWASP's recommended minimum (Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane).
    Each hash names its parameters, so raising them later still verifies the older ones."""
    return PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    """argon2id; werkzeug's scrypt hashes from before argon2 still verify (and are upgraded at login)."""
    if not stored.startswith("$argon2"):
        return check_password_hash(stored, password)
    try:
        return hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A real hash to check against when the user does not exist, so both paths cost the same.
    Made on first use: hashing is deliberately slow, and nothing runs at import."""
    return hash_password("timing-equaliser")


@functools.lru_cache(maxsize=8)
def _session_sql(database: int, postgres: bool) -> str:
    """`SELECT user.*, EXISTS(a revoked session with this sid) FROM user WHERE id = ?` as this database spells
    it (the key names the database). Its parameters are the sid, then the user id."""
    revoked = RevokedSession.select(peewee.SQL("1")).where(RevokedSession.sid == "")
    sql, _ = User.select(*User._meta.sorted_fields, peewee.fn.EXISTS(revoked)).where(User.id == 0).sql()
    return str(sql)


# Django's mark for "no password": no hash of ours starts with it, so nothing verifies against it.
UNUSABLE_PASSWORD = "!"  # noqa: S105 (a marker, not a password)


def new_stamp() -> str:
    return uuid.uuid4().hex


class User(BaseModel):
    id = peewee.AutoField()
    username = peewee.CharField(max_length=64, unique=True)
    email = peewee.CharField(max_length=254, null=True)
    password_hash = peewee.CharField(max_length=256)
    role = peewee.CharField(max_length=16, default="user")
    is_active = peewee.BooleanField(default=True)
    # In every token; a new value ends every session (password change, deactivation). A re-created
    # username gets a new value too, so it inherits none of the old account's tokens.
    token_stamp = peewee.CharField(max_length=32, default=new_stamp)
    # A named tier of RATE_LIMIT_TIERS an admin put the user in; None is the standard tier (RATE_LIMIT_USER).
    rate_limit_tier = peewee.CharField(max_length=32, null=True)
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)
    # The profile, and the GitHub account the user signs in with (docs/github-sign-in.md): GitHub's numeric id
    # is the link (a login can be renamed and then taken by someone else); `login` is the name it had last.
    name = peewee.CharField(max_length=255, null=True)
    avatar_url = peewee.CharField(max_length=1024, null=True)
    login = peewee.CharField(max_length=255, null=True)
    github_id = peewee.BigIntegerField(null=True, unique=True)

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.token_stamp = new_stamp()

    def set_unusable_password(self) -> None:
        """An account that signs in with GitHub only: no password matches this hash."""
        self.password_hash = UNUSABLE_PASSWORD + uuid.uuid4().hex

    @property
    def has_password(self) -> bool:
        return not self.password_hash.startswith(UNUSABLE_PASSWORD)

    def check_password(self, password: str) -> bool:
        return self.has_password and verify_password(self.password_hash, password)

    @classmethod
    def by_email(cls, email: str) -> peewee.ModelSelect[User]:
        """The users with this email, compared without regard to case."""
        return cls.select().where(peewee.fn.LOWER(cls.email) == email.strip().lower())

    @classmethod
    def by_name_or_email(cls, name: str) -> User | None:
        """The user whose username this is, else (for a name with `@`) the one user with this email."""
        user: User | None = cls.get_or_none(cls.username == name)
        if user is None and "@" in name:
            found = list(cls.by_email(name).limit(2))
            user = found[0] if len(found) == 1 else None
        return user

    @classmethod
    def authenticate(cls, username: str, password: str) -> User | None:
        """The active user with this username (or email) and password, else None, at the same cost."""
        user = cls.by_name_or_email(username)
        if user is None or not user.has_password:
            verify_password(_dummy_hash(), password)
            return None
        if not user.check_password(password) or not user.is_active:
            return None
        if not user.password_hash.startswith("$argon2") or hasher().check_needs_rehash(user.password_hash):
            # An older hash (scrypt, or weaker parameters): store today's, keeping the user's sessions.
            user.password_hash = hash_password(password)
            user.save(only=[cls.password_hash])
        return user

    @classmethod
    def for_session(cls, user_id: int, sid: str) -> tuple[User | None, bool]:
        """The user a token names and whether its session was ended, in one query: every authenticated
        request makes it, so the statement is compiled once per database (peewee builds a query's SQL anew
        on each call, most of what such a lookup costs)."""
        row = db.execute_sql(_session_sql(id(db.obj), is_postgres()), (sid, user_id)).fetchone()
        if row is None:
            return None, False
        *values, revoked = row
        user = cls(__no_default__=1, **{f.name: f.python_value(v) for f, v in zip(cls._meta.sorted_fields, values,
                                                                                   strict=True)})
        user._dirty.clear()  # type: ignore[attr-defined]  # read, not changed: nothing to save
        return user, bool(revoked)

    @classmethod
    def admin_count(cls) -> int:
        return int(cls.select().where(cls.role == "admin", cls.is_active == True).count())  # noqa: E712
