"""The `xeno` command: start the product and see what it runs, migrate, back up and restore, manage keys and users,
load demo data.

Each command's module is imported when that command runs, not all of them for every one: `xeno up` stays up as
long as the product and `xeno deliver` / `xeno ai worker` as long as their work, and the AI stack, Polars and the
rest that other commands import would otherwise sit in each of them (about 50 MB apiece) and slow every start.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

# name -> the module and the attribute that is the command (a function) or the group of commands (a Typer)
COMMANDS = {
    "up": ("engine.cli.up", "up"),
    "status": ("engine.cli.status", "status"),
    "migrate": ("engine.cli.migrate", "migrate"),
    "demo": ("engine.cli.demo", "demo"),
    "deliver": ("engine.cli.deliver", "deliver"),
    "backup": ("engine.cli.backup", "backup"),
    "restore": ("engine.cli.backup", "restore"),
    "keys": ("engine.cli.keys", "app"),
    "users": ("engine.cli.users", "app"),
    "deadletters": ("engine.cli.deadletters", "app"),
    "ingest": ("engine.cli.ingest", "app"),
    "ai": ("engine.cli.ai", "app"),
}


class LazyCommands(TyperGroup):
    """The commands of `COMMANDS`, each built from its module when asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:  # typer's own click.Command, or None
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name]
        found: Any = getattr(importlib.import_module(module), attribute)
        command: Any  # typer's own click: a group, or the one command
        if isinstance(found, typer.Typer):
            command = typer.main.get_group(found)  # a group even with one command (`xeno ingest drain`)
        else:
            alone = typer.Typer(add_completion=False)
            alone.command(cmd_name)(found)
            command = typer.main.get_command(alone)
        command.name = cmd_name
        return command


app = typer.Typer(cls=LazyCommands, no_args_is_help=True, add_completion=False)


@app.callback()
def _xeno() -> None:
    """Xeno CRM: a data-pipeline-centric CRM."""


def main() -> None:
    app()
