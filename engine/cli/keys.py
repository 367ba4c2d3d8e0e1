"""`xeno keys ...`: create, list and revoke the write keys integrators ingest with (audited as `cli:<user>`)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from engine import keys as write_keys
from engine.auth import management
from engine.auth.audit import cli_actor
from engine.connections import get_engine

app = typer.Typer(help="Write keys for integrators (they can only ingest).", no_args_is_help=True)


@app.command("create")
def create(name: str = typer.Argument(..., help="Who or what the key is for, e.g. 'web shop'.")) -> None:
    """Create a write key and print it once; only its hash is stored."""
    new = management.create_write_key(get_engine(), name, cli_actor())
    typer.echo(f"created key {new.key.id} ({new.key.name}); store it now, it is not shown again:")
    typer.echo(new.secret)


@app.command("list")
def list_() -> None:
    """List the write keys (never their secrets)."""
    table = Table("id", "name", "prefix", "created", "last used", "revoked")
    for key in write_keys.list_keys(get_engine()):
        table.add_row(str(key.id), key.name, key.prefix, f"{key.created_at:%Y-%m-%d %H:%M}",
                      f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
                      f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "-")  # fmt: skip
    Console().print(table)


@app.command("revoke")
def revoke(key_id: int = typer.Argument(..., help="The key's id, from `xeno keys list`.")) -> None:
    """Revoke a write key: ingestion with it is refused from now on."""
    key = management.revoke_write_key(get_engine(), key_id, cli_actor())
    if key is None:
        typer.echo(f"no key with id {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked key {key.id} ({key.name})")
