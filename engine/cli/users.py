"""`xeno users ...`: list the people who use the product, add them, change their role, disable them.

Changes are written to the audit log with the operating-system user as the actor (`cli:<name>`).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from engine.auth import management
from engine.auth.audit import cli_actor
from engine.auth.roles import Role
from engine.auth.users import User, UserExists, get_user_by_email, list_users
from engine.connections import get_engine

app = typer.Typer(help="Users and their roles (admin, marketer, analyst, viewer).", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """List the users with their role and last sign-in."""
    table = Table("id", "e-mail", "name", "role", "last sign-in", "disabled")
    for user in list_users(get_engine()):
        table.add_row(str(user.id), user.email, user.name or "-", user.role,
                      f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else "-",
                      f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "-")  # fmt: skip
    Console().print(table)


@app.command("add")
def add(
    email: str = typer.Argument(..., help="Their e-mail address, as the OpenID provider knows it."),
    role: Role = typer.Option(Role.viewer, help="What they may do."),
    name: str | None = typer.Option(None, help="Their name, until their first sign-in fills it in."),
) -> None:
    """Let someone sign in (even outside the allowed domains) with a role."""
    try:
        user = management.add_user(get_engine(), email, role, name, cli_actor())
    except UserExists as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"added {user.email} as {user.role}")


@app.command("set-role")
def set_role(email: str = typer.Argument(...), role: Role = typer.Argument(...)) -> None:
    """Change someone's role; it applies to their next request."""
    user = management.change_role(get_engine(), _existing(email).id, role, cli_actor())
    typer.echo(f"{email} is now {user.role if user else role}")


@app.command("disable")
def disable(email: str = typer.Argument(...)) -> None:
    """Disable someone: their sessions end at once and they cannot sign in again."""
    management.change_disabled(get_engine(), _existing(email).id, True, cli_actor())
    typer.echo(f"disabled {email}")


@app.command("enable")
def enable(email: str = typer.Argument(...)) -> None:
    """Let a disabled user sign in again."""
    management.change_disabled(get_engine(), _existing(email).id, False, cli_actor())
    typer.echo(f"enabled {email}")


def _existing(email: str) -> User:
    user = get_user_by_email(get_engine(), email)
    if user is None:
        typer.echo(f"no user with e-mail {email}", err=True)
        raise typer.Exit(1)
    return user
