"""`xeno demo`: post realistic demo customers, orders and events through the running API."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.connections import get_engine
from engine.demo import DemoPlan, post_demo_data
from engine.keys import create_key
from engine.settings import get_settings


def load_demo_data(customers: int, api_url: str | None = None) -> None:
    settings = get_settings()
    url = api_url or f"http://{settings.api_host}:{settings.api_port}"
    key = create_key(get_engine(), "demo data").secret
    columns = (TextColumn("[bold]demo data"), BarColumn(), MofNCompleteColumn(), TextColumn("customers"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns) as progress:
        task = progress.add_task("customers", total=customers)
        post_demo_data(url, key, DemoPlan(customers), lambda n: progress.advance(task, n))
    typer.echo(f"posted {customers} demo customers with their orders and events to {url}; the ingest job applies them")


def demo(
    customers: int = typer.Option(10_000, help="How many customers (try 1000000 for a large demo)."),
    api_url: str = typer.Option(None, help="The API to post to; default: the one `xeno up` starts."),
) -> None:
    """Post demo customers, orders and events through the public API (the API must be running)."""
    load_demo_data(customers, api_url)
