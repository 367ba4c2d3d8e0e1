"""Dashboard benchmark: how long a person waits for each action in a real browser, at a given number of customers.

A synthetic feature snapshot (`bench.segments`' generator) is published, a segment saved with `bench.segments.RULE`,
and the product's API and `streamlit run dashboard/server.py` started on loopback ports. Headless Chromium
(Debian's `chromium` and `chromium-driver`, driven with Selenium) then signs in with the developer sign-in and
times, from the click to the page showing the answer and running nothing any more:

- sign-in until the Segments page is interactive: the dashboard server's first (`first_sign_in_s`, which also
  imports the pages' libraries), then after signing out, as every later one;
- opening the saved segment, from the click on it in the pick list until its count shows (and back to a new
  segment), in turns;
- a builder edit (the spend threshold between two values), from pressing Enter until the new count shows, in
  turns;
- opening every page from the sidebar (`page_<title>_s`), Segments last.

The baseline is the API's own `POST /v1/segments/preview` of the same rule over HTTP, measured in the same run:
`recount_vs_api` is what the browser adds around it. `api_preview_everyone_ms` previews a rule every customer
matches, with who an SMS campaign would reach among them, the widest audience an edit can ask about. Times are
medians (and the slowest) of `--repeat` runs; screenshots of the builder go to
`artifacts/screenshots/bench-dashboard-*.png`.

    python -m bench.dashboard [--customers 1000000] [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bench.common import api_process, process, report, use_fresh_services
from bench.segments import NOW, RULE, synthetic_events, synthetic_features
from dashboard.formats import number
from engine.auth.roles import Role
from engine.auth.sessions import start_session
from engine.auth.users import record_sign_in
from engine.connections import get_engine
from engine.features.catalog import catalog_for_schema
from engine.features.snapshot import publish_snapshot
from engine.segments import parse_rule
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import create_segment
from engine.services.supervisor import free_port
from engine.settings import get_settings
from tests.fixtures.browser import DashboardPage, chromium

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SEGMENT = "Bench segment"
SPEND_KEY = "rule:0.0:value:number"  # the builder's first clause is (spend > x OR ...): its number input
SPENDS = (300, 500)
EVERYONE = {"and": [{"field": "customer_id", "op": ">=", "value": 0}]}
PAGES = ("Campaigns", "History", "Customers", "Pipelines", "Admin", "Segments")
WAIT_S = 120


def timed(action: Callable[[], None], done: Callable[[], Any], page: DashboardPage, what: str) -> float:
    """Seconds from `action` to `done()` holding on a page that has finished running."""
    started = time.perf_counter()
    action()
    page.until(done, lambda: f"no {what}")
    page.idle()
    return time.perf_counter() - started


def heading(page: DashboardPage, title: str) -> bool:
    return any(item.text == title for item in page.driver.find_elements(By.CSS_SELECTOR, "h1"))


def prepare(customers: int, folder: Path) -> dict[int, int]:
    """Publish the snapshot and save the segment; the segment's size at each spend threshold."""
    features, events = synthetic_features(customers), synthetic_events(customers)
    publish_snapshot(get_engine(), folder / "snapshots", features, events, taken_at=NOW, source_totals={})
    catalog = catalog_for_schema(features.schema)
    with get_engine().begin() as conn:
        owner = record_sign_in(conn, "bench@shop.example", "Bench", Role.admin)
    create_segment(get_engine(), name=SEGMENT, description="", rule=parse_rule(RULE, catalog), owner_id=owner.id)
    evaluator = PolarsEvaluator(features, events, now=NOW, catalog=catalog)
    return {spend: evaluator.count(parse_rule(with_spend(spend), catalog)) for spend in SPENDS}


def with_spend(spend: int) -> dict[str, Any]:
    clauses = cast(list[dict[str, Any]], RULE["and"])
    spend_or_loyal = {"or": [{"field": "total_spend", "op": ">", "value": spend}, *clauses[0]["or"][1:]]}
    return {"and": [spend_or_loyal, *clauses[1:]]}


def api_preview_ms(api: str, repeat: int) -> dict[str, float]:
    """The baseline: the API's preview of the rule over HTTP (and of a rule everyone matches), median of `repeat`
    after one warm-up."""
    with get_engine().begin() as conn:
        analyst = record_sign_in(conn, "bench-api@shop.example", "Bench", Role.analyst)
        token = start_session(conn, get_settings(), analyst, "bench").access_token
    with httpx.Client(base_url=api, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:

        def median_ms(rules: Callable[[int], dict[str, Any]]) -> float:
            times = []
            for round_ in range(repeat + 1):
                body = {"rule": rules(round_), "sample_size": 10, "channel": "sms"}
                started = time.perf_counter()
                client.post("/v1/segments/preview", json=body).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            return statistics.median(times[1:])

        return {
            "api_preview_ms": median_ms(lambda round_: with_spend(SPENDS[round_ % 2])),
            "api_preview_everyone_ms": median_ms(lambda _: EVERYONE),
        }


def open_segment(browser: DashboardPage, name: str | None, count: str | None) -> float:
    """Seconds from clicking the segment `name` in the pick list until its `count` shows (None: a new segment, until
    no count shows); typing its name to find it in the list is not timed."""
    option = name or "New segment"
    field = browser.keyed("segment_pick", "input")
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(option)
    listed = browser.until(
        lambda: next((item for item in browser.options() if item.text.strip() == option), None),
        lambda: [item.text for item in browser.options()],
    )
    return timed(listed.click, lambda: browser.metric("Customers") == count, browser, f"the count {count} of {option}")


def recount(browser: DashboardPage, spend: int, count: str) -> float:
    """Seconds from pressing Enter on a new spend threshold typed into the builder until the new `count` shows."""
    field = browser.keyed(SPEND_KEY, "input")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(f"{spend:g}")
    return timed(
        lambda: field.send_keys(Keys.ENTER),
        lambda: browser.metric("Customers") == count,
        browser,
        f"the count {count} after spend > {spend}",
    )


def sign_in(browser: DashboardPage) -> float:
    """Seconds from the developer sign-in's button until the Segments page is interactive."""
    browser.keyed("signin_email", "input")
    return timed(lambda: browser.keyed("signin_dev", "button").click(), lambda: heading(browser, "Segments"),
                 browser, "the Segments page")  # fmt: skip


def open_page(browser: DashboardPage, title: str) -> float:
    """Seconds from the sidebar's link to the page `title` until it is interactive."""
    link = browser.until(lambda: browser.nav_links().get(title), lambda: list(browser.nav_links()))
    return timed(link.click, lambda: heading(browser, title), browser, f"the {title} page")


def measure(browser: DashboardPage, url: str, sizes: dict[int, int], repeat: int) -> dict[str, float]:
    browser.driver.get(url)
    first_sign_in_s = sign_in(browser)
    browser.click("sign_out")
    sign_in_s = sign_in(browser)
    saved = number(sizes[SPENDS[0]])
    opens = []
    for _ in range(repeat):
        open_segment(browser, None, None)
        opens.append(open_segment(browser, SEGMENT, saved))
    browser.shot("builder")
    spends = [SPENDS[(round_ + 1) % 2] for round_ in range(repeat)]
    edits = [recount(browser, spend, number(sizes[spend])) for spend in spends]
    browser.shot("builder-edited")
    pages = {f"page_{title.lower()}_s": open_page(browser, title) for title in PAGES}
    return {
        "first_sign_in_s": first_sign_in_s,
        "sign_in_to_segments_s": sign_in_s,
        "open_saved_segment_s": statistics.median(opens),
        "open_saved_segment_max_s": max(opens),
        "builder_recount_s": statistics.median(edits),
        "builder_recount_max_s": max(edits),
        **pages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers in the snapshot")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each action (median reported)")
    parser.add_argument("--quick", action="store_true", help="20k customers, 3 runs")
    args = parser.parse_args()
    customers, repeat = (20_000, 3) if args.quick else (args.customers, args.repeat)

    use_fresh_services("xeno_bench_dashboard")
    os.environ.update(XENO_DEV_SIGNIN="true", ENVIRONMENT="development")
    get_settings.cache_clear()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        sizes = prepare(customers, Path(folder))
        prepared_s = time.perf_counter() - started
        api_port, dashboard_port = free_port(), free_port()
        api = f"http://127.0.0.1:{api_port}"
        streamlit = [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "server.py"),
            "--server.port", str(dashboard_port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        dashboard = f"http://127.0.0.1:{dashboard_port}"
        with (
            api_process(api_port),
            process(streamlit, ready_url=f"{dashboard}/_stcore/health", env={"XENO_API_URL": api}),
            chromium(Path(folder) / "profile") as driver,
        ):
            baselines = api_preview_ms(api, repeat)
            figures = measure(
                DashboardPage(driver, SCREENSHOTS, "bench-dashboard", settle_s=0, timeout=WAIT_S),
                dashboard,
                sizes,
                repeat,
            )
    figures = {
        "customers": customers,
        "prepared_s": prepared_s,
        **figures,
        **baselines,
        "recount_vs_api": figures["builder_recount_s"] * 1000 / baselines["api_preview_ms"],
        "load": os.getloadavg()[0],
    }
    for name, value in figures.items():
        print(f"{name:>28}: {value:,.3f}" if isinstance(value, float) else f"{name:>28}: {value:,}", file=sys.stderr)
    report(figures)


if __name__ == "__main__":
    main()
