"""The Conveyor account a GitHub identity signs in to, found by GitHub's numeric account id only.

A first sign-in creates an account. An existing account gets a GitHub link only by its own action (a link
flow it started while signed in) and never because an email matches: whoever controls a GitHub account can
add any address to it, so an email match would hand them the account (docs/github-sign-in.md). For the same
reason a new account is not created under an email another account has; that person signs in and links.
"""
from __future__ import annotations

import re
import secrets

import peewee

from domain.audit import Origin, record
from domain.github_sign_in.client import GitHubProfile
from models.db import db, utc_naive
from models.developer import Developer, DeveloperIdentity
from models.user import User

_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_NUMBERED_TRIES = 20


class AccountRefused(Exception):
    """The sign-in or link cannot go ahead; `status` is the HTTP answer (401, 403 or 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def record_audit(action: str, user: User, github: GitHubProfile | None, origin: Origin,
                 actor: User | None = None) -> None:
    """The audit log's entry of a GitHub sign-in (`github.sign_in`, `github.sign_up`), link (`github.link`) or
    unlink (`github.unlink`), inside the transaction of the change it records. `actor` is who did it when not
    `user` themselves (an admin's unlink)."""
    who = actor or user
    record(action, actor_id=who.id, actor_label=who.username, target=("user", user.id), origin=origin,
           details={"provider": "github", "login": github.login if github else user.login})


def sign_in(profile: GitHubProfile, default_role: str, origin: Origin) -> User:
    """The account linked to this GitHub account, or a new one with `default_role`."""
    _require_email(profile)
    for _ in range(3):  # a concurrent first sign-in of the same account, or a username taken meanwhile
        try:
            with db.atomic():
                return _sign_in(profile, default_role, origin)
        except peewee.IntegrityError:
            continue
    raise AccountRefused(409, "The account could not be created; try again")


def _sign_in(profile: GitHubProfile, default_role: str, origin: Origin) -> User:
    user = User.get_or_none(User.github_id == profile.id)
    action = "github.sign_in"
    if user is None:
        if User.by_email(profile.email or "").exists():
            raise AccountRefused(409, "An account with this email exists: sign in to it and link GitHub from "
                                      "there (accounts are never joined by email)")
        user, action = User(role=default_role, email=profile.email, name=profile.name), "github.sign_up"
        user.username = _free_username(profile.login)
        user.set_unusable_password()
    if not user.is_active:
        raise AccountRefused(403, "This account is deactivated")
    _take_profile(user, profile)
    user.save()
    link_developers(user)
    record_audit(action, user, profile, origin)
    return user


def link(user_id: int, profile: GitHubProfile, origin: Origin) -> User:
    """Link the GitHub account to the user who started the link flow; 409 when it is another user's."""
    _require_email(profile)
    try:
        with db.atomic():
            user = User.get_or_none(User.id == user_id, User.is_active == True)  # noqa: E712
            if user is None:
                raise AccountRefused(401, "The account that started this link is gone or deactivated")
            if User.select().where(User.github_id == profile.id, User.id != user.id).exists():
                raise AccountRefused(409, "This GitHub account is linked to another user")
            if user.github_id not in (None, profile.id):
                raise AccountRefused(409, "This account is linked to another GitHub account: unlink it first")
            _take_profile(user, profile)
            user.save()
            link_developers(user)
            record_audit("github.link", user, profile, origin)
            return user
    except peewee.IntegrityError:
        raise AccountRefused(409, "This GitHub account is linked to another user") from None


def unlink(user: User, origin: Origin, admin: User | None = None) -> User:
    """Remove the user's GitHub link (and their developers' link to them). The user cannot when the account
    has no password (unlinked, nobody could sign in to it again); an `admin` can, e.g. for a
    GitHub account that was lost or taken over, and gives the account a password afterwards."""
    if user.github_id is None:
        raise AccountRefused(409, "This account is not linked to a GitHub account")
    if not user.has_password and admin is None:
        raise AccountRefused(409, "This account signs in with GitHub only: an admin must give it a password "
                                  "before GitHub can be unlinked")
    with db.atomic():
        Developer.update(user=None).where(Developer.user == user.id).execute()
        record_audit("github.unlink", user, None, origin, admin)
        user.github_id = user.login = None
        user.updated_at = utc_naive()
        user.save()
    return user


def link_developers(user: User) -> int:
    """Developers (in any organization) with an identity of the user's GitHub account become the user's."""
    if user.github_id is None:
        return 0
    theirs = DeveloperIdentity.select(DeveloperIdentity.developer).where(
        DeveloperIdentity.provider == "github", DeveloperIdentity.provider_user_id == str(user.github_id))
    return int(Developer.update(user=user.id).where(Developer.id.in_(theirs)).execute())


def _require_email(profile: GitHubProfile) -> None:
    if profile.email is None:
        raise AccountRefused(403, "The GitHub account has no verified primary email")


def _take_profile(user: User, profile: GitHubProfile) -> None:
    """GitHub's id, login and avatar; its name only where the user has none (they may have changed it here)."""
    user.github_id, user.login, user.avatar_url = profile.id, profile.login or None, profile.avatar_url
    user.name = user.name or profile.name
    user.updated_at = utc_naive()


def _free_username(login: str) -> str:
    """The GitHub login as a username (3 to 64 of our characters), numbered, then suffixed, until it is free."""
    base = _NOT_A_NAME.sub("-", login)[:56] or "github"
    base = base if len(base) >= 3 else f"{base}-gh"
    candidates = [base, *(f"{base}-{n}" for n in range(2, _NUMBERED_TRIES + 2))]
    taken = {user.username for user in User.select(User.username).where(User.username.in_(candidates))}
    free = [name for name in candidates if name not in taken]
    return free[0] if free else f"{base}-{secrets.token_hex(3)}"
