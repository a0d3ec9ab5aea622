"""Users and their password hashes."""
from __future__ import annotations

import functools
import uuid

import peewee
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

from models.db import BaseModel, db, is_postgres, utc_naive
from models.session import RevokedSession

ROLES = ("admin", "user", "viewer")


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

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.token_stamp = new_stamp()

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    @classmethod
    def authenticate(cls, username: str, password: str) -> User | None:
        user = cls.get_or_none(cls.username == username)
        if user is None:
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
