"""``fiptrial user create|list|set-password``: the operator's way to manage web users."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from fiptrial.cli.common import OPERATOR, reports_errors
from fiptrial.extensions import db
from fiptrial.models import User
from fiptrial.models.identity import ALL_ROLES
from fiptrial.services.trials import get_site
from fiptrial.services.users import create_user, find_user, set_password

user_cli = AppGroup("user", help="Create and list the people who log in to the web pages.")


@user_cli.command("create")
@click.option("--username", required=True, help="Login name (letters, digits, . _ -).")
@click.option("--role", required=True, type=click.Choice(list(ALL_ROLES)))
@click.option("--site", "site_code", help="Site code (site_coordinator and client_manager).")
@click.option("--name", "display_name", default="", help="Name shown on the pages.")
@click.option("--capacity", type=int, default=None, help="FIP places (client managers).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted when left out; at least 12 characters, not a common password.",
)
@reports_errors
def user_create(
    username: str,
    role: str,
    site_code: str | None,
    display_name: str,
    capacity: int | None,
    password: str,
) -> None:
    """Create a user; weak passwords are refused with the rule they break."""
    site = get_site(site_code) if site_code else None
    user = create_user(
        username=username,
        role=role,
        password=password,
        site=site,
        display_name=display_name,
        capacity=capacity,
        actor=OPERATOR,
    )
    click.echo(
        f"Created user {user.username} ({role}" + (f" at {site_code}" if site_code else "") + ")."
    )


@user_cli.command("set-password")
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@reports_errors
def user_set_password(username: str, password: str) -> None:
    """Set a new password; this ends every web session of the user."""

    user = find_user(username)
    if user is None:
        raise click.ClickException(f"no user called {username!r}")
    set_password(user.id, password, actor=OPERATOR)
    click.echo(f"Password of {user.username} set.")


@user_cli.command("list")
def user_list() -> None:
    """List users: name, role, site, state."""
    for user in db.session.query(User).order_by(User.username):
        site = user.site.code if user.site else "-"
        state = "active" if user.active else "inactive"
        click.echo(f"{user.username}\t{user.role}\t{site}\t{state}")
