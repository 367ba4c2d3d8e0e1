"""`xeno ingest ...`: drain the ingest stream from the command line, once or continuously.

Dagster's sensor and job do this in the product; a standalone consumer is for scaling out (more consumers
in the same group), for benchmarks, and for operators who want the backlog applied now.
"""

from __future__ import annotations

import signal

import typer

from engine.connections import get_engine, get_redis
from engine.ingest.consumer import DrainReport, drain
from engine.observability import observe_process
from engine.services.health import serve_health
from engine.settings import get_settings

app = typer.Typer(help="The ingest stream.", no_args_is_help=True)


@app.command("drain")
def drain_command(
    follow: bool = typer.Option(False, "--follow", help="Keep consuming new entries until interrupted."),
    consumer: str = typer.Option(None, help="Consumer name within the group (default: host and pid)."),
) -> None:
    """Apply what waits on the ingest stream, then exit (or keep going with --follow). With --follow, it answers
    `GET /health` and `GET /metrics` on loopback port XENO_HEALTH_PORT when that is set, as the other workers do."""
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    observe_process("xeno-ingest", get_settings())
    if follow:
        serve_health("ingest", get_settings().health_port, get_engine(), get_redis())
    total = DrainReport()
    while True:
        total += drain(
            get_engine(), get_redis(), get_settings(), consumer=consumer,
            max_batches=50 if follow else None, block_ms=500 if follow else None,
            appliers=get_settings().ingest_appliers,
        )  # fmt: skip
        if not follow or stopping:
            break
    typer.echo(
        f"applied {total.applied}, duplicates {total.duplicates}, dead-lettered {total.dead_lettered}, "
        f"dropped for erased customers {total.erased}"
    )
