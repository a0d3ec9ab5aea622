"""`flask --app api init` and `flask --app api users create`: set-up from the command line."""
from __future__ import annotations

import secrets

import click
import peewee
from flask import Flask

from api.auth.permissions import ROLE_PERMISSIONS
from domain.audit import record
from models.db import db
from models.migrations import migrate
from models.user import User


def ensure_first_admin(username: str, password: str | None) -> str | None:
    """Create the first admin when no admin exists; returns the password when it was generated."""
    with db.connection_context(), db.atomic():
        if User.admin_count() > 0:
            return None
        generated = None
        if not password:
            password = generated = secrets.token_urlsafe(12)
        user = User.get_or_none(User.username == username) or User(username=username)
        before = user.role if user.id is not None else None
        user.role, user.is_active = "admin", True
        user.set_password(password)
        user.save()
        if before is None:
            _recorded("user.create", user)
        elif before != "admin":
            _recorded("user.role_change", user, from_role=before, to_role="admin")
        return generated or ""


def _recorded(action: str, user: User, **details: str) -> None:
    """The audit entry of a change made from the command line (no actor, no address: `cli`)."""
    record(action, actor_label="cli", target=("user", user.id),
           details={"username": user.username, "role": user.role, **details})


def register_cli(app: Flask) -> None:
    @app.cli.command("init")
    def init() -> None:
        """Create or migrate the schema and make sure a first admin exists."""
        settings = app.extensions["conveyor"].settings
        applied = migrate()
        click.echo(f"database ready (migrations applied: {applied or 'none'})")
        generated = ensure_first_admin(settings.admin_username, settings.admin_password)
        if generated:
            # Printed once on the terminal, never logged; change it after logging in.
            click.echo(f"created admin {settings.admin_username!r} with password: {generated}")
        elif generated == "":
            click.echo(f"created admin {settings.admin_username!r} with the password from ADMIN_PASSWORD")

    users = click.Group("users", help="Manage users.")
    app.cli.add_command(users)

    @users.command("create")
    @click.argument("username")
    @click.option("--role", type=click.Choice(sorted(ROLE_PERMISSIONS)), default="user", show_default=True)
    @click.option("--email", default=None)
    @click.password_option(help="Asked for when not given.")
    def create(username: str, role: str, email: str | None, password: str) -> None:
        """Create a user with a role."""
        if len(password) < 8:
            raise click.BadParameter("must be at least 8 characters", param_hint="--password")
        with db.connection_context():
            migrate()
            user = User(username=username, role=role, email=email)
            user.set_password(password)
            try:
                with db.atomic():
                    user.save()
                    _recorded("user.create", user)
            except peewee.IntegrityError:
                raise click.ClickException(f"username {username!r} is taken") from None
        click.echo(f"created {role} {username!r} (id {user.id})")
