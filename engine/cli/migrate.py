"""`xeno migrate`: bring the database named by the settings to the newest schema (or a given revision)."""

from __future__ import annotations

import typer

from engine import migrate as migrations


def migrate(
    revision: str = typer.Argument("head", help="Target revision; `head` is the newest."),
    down: bool = typer.Option(False, "--down", help="Downgrade to REVISION instead (`base` empties it)."),
) -> None:
    """Run the database migrations."""
    if down:
        migrations.downgrade(revision)
    elif revision == "head":
        migrations.prepare_databases()
    else:
        migrations.upgrade(revision)
    typer.echo(f"database at {'revision ' + revision if revision != 'head' else 'the newest revision'}")
