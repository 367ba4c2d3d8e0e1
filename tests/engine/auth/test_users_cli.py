"""`xeno users`: an operator adds people, changes roles and disables them from a terminal, audited."""

from __future__ import annotations

import getpass

from sqlalchemy import Engine
from typer.testing import CliRunner

from engine.auth import audit
from engine.auth.roles import Role
from engine.auth.users import get_user_by_email
from engine.cli import app

runner = CliRunner()


def test_adding_promoting_and_disabling_a_user_from_the_terminal(database: Engine) -> None:
    assert runner.invoke(app, ["users", "add", "ana@shop.example", "--role", "analyst"]).exit_code == 0
    assert runner.invoke(app, ["users", "set-role", "ana@shop.example", "marketer"]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "ana@shop.example"]).exit_code == 0

    user = get_user_by_email(database, "ana@shop.example")
    assert user is not None
    assert (user.role, user.disabled) == (Role.marketer, True)
    listed = runner.invoke(app, ["users", "list"])
    assert "ana@shop.example" in listed.output
    assert "marketer" in listed.output
    actions = [(e.actor, e.action) for e in reversed(audit.list_entries(database))]
    actor = f"cli:{getpass.getuser()}"
    assert actions == [(actor, audit.USER_CREATED), (actor, audit.USER_ROLE_CHANGED), (actor, audit.USER_DISABLED)]


def test_adding_someone_twice_or_changing_a_stranger_fails_clearly(database: Engine) -> None:
    runner.invoke(app, ["users", "add", "ana@shop.example"])

    again = runner.invoke(app, ["users", "add", "ANA@shop.example"])
    stranger = runner.invoke(app, ["users", "disable", "nobody@shop.example"])

    assert (again.exit_code, stranger.exit_code) == (1, 1)
    assert "already exists" in again.output
    assert "no user with e-mail nobody@shop.example" in stranger.output
