"""A small run of the chaos benchmark (`bench/chaos.py`): the real product ingests and sends a campaign while its
API, Dagster run workers and delivery worker are killed with SIGKILL, and nothing acknowledged is lost, nothing is
applied or sent twice, every message ends final and no campaign is stuck."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest
import redis

from tests.fixtures.services import SESSION_TAG

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)  # the product starts, then ingests and sends under kills: minutes on a loaded machine
def test_the_product_heals_from_kills_with_nothing_lost_or_doubled(service_urls: tuple[str, str]) -> None:
    database_url, redis_url = service_urls
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": database_url.rsplit("/", 1)[0] + f"/{SESSION_TAG}_chaos",
        "BENCH_REDIS_URL": redis_url,
        "REDIS_PREFIX": f"{SESSION_TAG}_chaos",  # the product's keys, apart from the session's and other sessions'
    }
    sizes = ["--customers", "3000", "--orders", "3000", "--events", "3000", "--poisoned", "3", "--kills", "6"]
    try:
        bench = subprocess.run(
            [sys.executable, "-m", "bench.chaos", *sizes, "--settle-timeout-s", "240"],
            env=env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    finally:
        client = redis.Redis.from_url(redis_url)
        left = list(client.scan_iter(match=f"{env['REDIS_PREFIX']}:*", count=1000))
        if left:
            client.delete(*left)
    assert bench.returncode == 0, bench.stderr[-5000:]
    figures = orjson.loads(bench.stdout.strip().splitlines()[-1])

    assert figures["kills"] >= 6, figures
    assert (figures["accepted"], figures["lost"], figures["duplicated"]) == (9060, 0, 0), figures
    assert (figures["poisoned"], figures["dead_lettered"]) == (3, 3), figures
    assert (figures["messages"], figures["sent_twice"], figures["not_final"]) == (3060, 0, 0), figures
    assert figures["stuck_campaigns"] == 0, figures
