"""The `xeno` command: start the product and see what it runs, migrate, back up and restore, manage keys and users,
load demo data."""

from __future__ import annotations

import typer

from engine.cli import ai as ai_command
from engine.cli import backup as backup_command
from engine.cli import deadletters as deadletters_command
from engine.cli import deliver as deliver_command
from engine.cli import demo as demo_command
from engine.cli import ingest as ingest_command
from engine.cli import keys as keys_command
from engine.cli import migrate as migrate_command
from engine.cli import status as status_command
from engine.cli import up as up_command
from engine.cli import users as users_command

app = typer.Typer(help="Xeno CRM: a data-pipeline-centric CRM.", no_args_is_help=True, add_completion=False)
app.command("up")(up_command.up)
app.command("status")(status_command.status)
app.command("migrate")(migrate_command.migrate)
app.command("demo")(demo_command.demo)
app.command("deliver")(deliver_command.deliver)
app.command("backup")(backup_command.backup)
app.command("restore")(backup_command.restore)
app.add_typer(keys_command.app, name="keys")
app.add_typer(users_command.app, name="users")
app.add_typer(deadletters_command.app, name="deadletters")
app.add_typer(ingest_command.app, name="ingest")
app.add_typer(ai_command.app, name="ai")


def main() -> None:
    app()
