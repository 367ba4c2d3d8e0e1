"""`xeno deliver`: the delivery worker (senders, the receipts applier, housekeeping, notifications) until
interrupted.

Why a worker and not Dagster runs: see "Delivery" in the README. Several can run side by side.
"""

from __future__ import annotations

import typer

from engine.connections import get_engine, get_redis
from engine.observability import observe_process
from engine.services.health import serve_health
from engine.settings import get_settings
from engine.workers.delivery import PARTS, run_worker


def deliver(
    parts: str = typer.Option(",".join(PARTS), help=f"Comma-separated parts to run, of: {', '.join(PARTS)}."),
    consumer: str = typer.Option(None, help="Consumer name in the stream groups (default: host and pid)."),
) -> None:
    """Send queued campaign messages to the vendor and apply its receipts, until Ctrl-C or SIGTERM."""
    observe_process("xeno-deliver", get_settings())
    serve_health("deliver", get_settings().health_port, get_engine(), get_redis())
    try:
        run_worker([part.strip() for part in parts.split(",") if part.strip()], consumer)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
