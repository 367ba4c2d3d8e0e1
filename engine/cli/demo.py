"""`xeno demo`: post realistic demo customers, orders and events through the running API, and make them
segmentable at once.

After posting, it applies what waits on the ingest stream with the ingest job's own consumer (as `xeno ingest
drain` does) and publishes a feature snapshot with the features asset's own function, instead of waiting for
Dagster's sensors to launch those runs: the demo is segmentable within seconds, and Dagster takes over from there.
`xeno up --demo` runs it as soon as the API answers; a demo already loaded is not posted again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import typer

from engine.connections import get_engine, get_redis
from engine.demo import DemoPlan, demo_customers_loaded, demo_write_key, post_demo_data
from engine.features.freshness import features_lag
from engine.features.materialize import materialize_features
from engine.features.snapshot import snapshot_info
from engine.ingest.consumer import drain
from engine.settings import get_settings

# While posting, a progress line each time another this share of the customers is posted.
PROGRESS_STEP = 0.2
APPLIED_POLL_S = 0.5
# How long to wait for what Dagster's ingest run took meanwhile to be applied before publishing without it.
APPLIED_WAIT_S = 300.0


class DemoStopped(RuntimeError):
    """The product is stopping: the demo data is left as far as it got."""


def load_demo_data(
    customers: int,
    api_url: str | None = None,
    say: Callable[[str], None] = typer.echo,
    stopping: threading.Event | None = None,
) -> None:
    """Post `customers` demo customers (unless the database has them), apply them, publish their features, and say
    `ready: N customers segmentable`. Progress goes to `say`; `stopping` ends it between steps."""
    settings, db = get_settings(), get_engine()
    stop = stopping or threading.Event()
    began = time.monotonic()
    url = api_url or f"http://{settings.api_host}:{settings.api_port}"
    if demo_customers_loaded(db) >= customers:
        say(f"demo data: already loaded ({customers:,} customers); not posting it again")
    else:
        posted = 0
        next_report = PROGRESS_STEP * customers

        def progress(done: int) -> None:
            nonlocal posted, next_report
            if stop.is_set():
                raise DemoStopped
            posted += done
            if posted >= next_report:
                say(f"demo data: {posted:,} of {customers:,} customers posted, with their orders and events")
                next_report += PROGRESS_STEP * customers

        say(f"demo data: posting {customers:,} customers, their orders and events to {url}")
        post_demo_data(url, demo_write_key(db, settings.data_dir), DemoPlan(customers), progress)
        say("demo data: applying what was posted")
        report = drain(db, get_redis(), settings)
        say(f"demo data: {report.applied:,} records applied here, {report.dead_lettered} dead-lettered")
        waited_until = time.monotonic() + APPLIED_WAIT_S
        while (loaded := demo_customers_loaded(db)) < customers:  # a Dagster ingest run took some meanwhile
            if time.monotonic() > waited_until:
                say(f"demo data: {loaded:,} of {customers:,} customers applied so far; the ingest job goes on")
                break
            if stop.wait(APPLIED_POLL_S):
                raise DemoStopped
    if features_lag(db) is not None or snapshot_info(db) is None:
        say("demo data: computing the customer features")
        materialize_features(db, settings.data_dir / "snapshots")
    snapshot = snapshot_info(db)
    assert snapshot is not None, "a snapshot was published above"
    say(f"ready: {snapshot.row_count:,} customers segmentable ({time.monotonic() - began:.0f} s)")


def demo(
    customers: int = typer.Option(10_000, help="How many customers (try 1000000 for a large demo)."),
    api_url: str = typer.Option(None, help="The API to post to; default: the one `xeno up` starts."),
) -> None:
    """Post demo customers, orders and events through the public API (the API must be running), apply them and
    publish their features."""
    load_demo_data(customers, api_url)
