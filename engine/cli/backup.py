"""`xeno backup` and `xeno restore`: the product's database and feature snapshots in one file, and back into an
empty installation (`engine.operations.backup`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from engine.operations.backup import RestoreRefused, create_backup, restore_backup
from engine.settings import get_settings


def backup(
    target: Path = typer.Argument(None, help="The file to write; default: <data folder>/backups/xeno-<time>.tar."),
) -> None:
    """Back up the product's database (pg_dump) and the feature snapshot files into one tar file."""
    settings = get_settings()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = target or settings.data_dir / "backups" / f"xeno-{stamp}.tar"
    info = create_backup(settings, path)
    typer.echo(f"backed up the database (schema {', '.join(info.revisions)}) and {len(info.snapshot_files)} "
               f"snapshot files to {path}")  # fmt: skip


def restore(
    source: Path = typer.Argument(..., exists=True, dir_okay=False, help="A file `xeno backup` wrote."),
    replace: bool = typer.Option(False, "--replace", help="Replace a database that holds customers already."),
) -> None:
    """Restore a backup into an empty installation, migrated to this release's schema."""
    try:
        info = restore_backup(get_settings(), source, replace=replace)
    except RestoreRefused as refusal:
        typer.echo(f"{refusal} (--replace to replace it)", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored the backup of {info.created_at} and {len(info.snapshot_files)} snapshot files; "
               "the database is at the newest schema")  # fmt: skip
