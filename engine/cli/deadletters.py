"""`xeno deadletters ...`: see what the ingest job could not apply, and replay it after a fix."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from engine.connections import get_engine, get_redis
from engine.ingest import deadletters
from engine.settings import get_settings

app = typer.Typer(help="Records the ingest job could not apply, kept with their error.", no_args_is_help=True)


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include the ones already replayed."),
    limit: int = typer.Option(100, help="At most this many."),
) -> None:
    """List dead letters, oldest first."""
    table = Table("id", "failed", "kind", "stream entry", "error", "replayed")
    for letter in deadletters.list_dead_letters(get_engine(), include_replayed=all_, limit=limit):
        table.add_row(str(letter.id), f"{letter.failed_at:%Y-%m-%d %H:%M:%S}", letter.kind, letter.stream_entry_id,
                      letter.error, f"{letter.replayed_at:%Y-%m-%d %H:%M}" if letter.replayed_at else "-")  # fmt: skip
    Console().print(table)


@app.command("show")
def show(letter_id: int) -> None:
    """Print one dead letter's record as it was received."""
    letter = deadletters.get_dead_letter(get_engine(), letter_id)
    if letter is None:
        typer.echo(f"no dead letter with id {letter_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"error: {letter.error}")
    typer.echo(letter.payload)


@app.command("replay")
def replay(
    ids: list[int] = typer.Argument(None, help="Dead letter ids; none means every one not yet replayed."),
) -> None:
    """Put dead letters back on the ingest stream; the ingest job applies them again."""
    try:
        replayed = deadletters.replay(get_engine(), get_redis(), get_settings().stream("ingest"), ids or None)
    except deadletters.NotReplayable as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(f"replayed {len(replayed)} dead letter(s): {', '.join(map(str, replayed)) or '-'}")
