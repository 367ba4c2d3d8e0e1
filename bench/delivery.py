"""Delivery benchmark: a campaign from launch until its last receipt is applied, in messages per second.

On a fresh database, with the vendor simulator (10% of messages failing, receipts after 200 ms, signed
and batched), the API taking the receipts, and one delivery worker (sender, receipts applier,
housekeeping) as separate processes. The headline is recipients / seconds from the start of the launch
until every log row is delivered or failed. The baseline, in the same run, posts the same messages
straight to a simulator with aiohttp in batches of the same size and concurrency, with no bookkeeping.
Also measured: the launch alone (evaluate, render, COPY the log, publish), and the receipts applier alone
(the same number of receipts already on the stream, applied in-process).

With `--smtp`, an e-mail campaign also goes through a real SMTP server on loopback, in a process of its own: a
sender in this process builds each MIME message (text and HTML, open pixel and click redirects, one-click
unsubscribe) and sends it over one pool of `--smtp-connections` connections; `smtp_messages_per_s` is
recipients / seconds from the sender's start until every message is sent. Its baseline, in the same run, sends
the same number of ready-made messages through an equal pool with aiosmtplib and nothing else. The relay is
`bench.smtp_sink`, which like Postfix's `smtp-sink` costs little CPU per message, so the sender is what is
measured; the same campaign through aiosmtpd (the tests' relay, about 0.5 ms of CPU a message) is reported as
`smtp_aiosmtpd_messages_per_s`.

    python -m bench.delivery [--recipients N | --million] [--batch N] [--concurrency N] [--quick]
                             [--workers sender,housekeeping/receipts] [--appliers N]
                             [--smtp] [--smtp-recipients N] [--smtp-connections N]

Figures vary with whatever else the machine runs: compare the ratio rather than the raw rates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import httpx
import orjson
import polars as pl

from bench.common import api_process, cpu_seconds, post_bodies, process, report, use_fresh_services
from engine import streams
from engine.campaigns.audience import FrameAudience
from engine.campaigns.launch import launch_campaign
from engine.campaigns.lifecycle import CampaignDraft, create_campaign, schedule_campaign
from engine.campaigns.progress import get_campaign, message_counts
from engine.campaigns.receipts import STREAM as RECEIPTS
from engine.campaigns.receipts import drain_receipts
from engine.campaigns.sender import run_sender
from engine.channels import get_channel
from engine.channels.base import Outgoing
from engine.channels.mime import email_content, mime_bytes
from engine.connections import get_engine, get_redis
from engine.features.catalog import base_catalog
from engine.services.supervisor import free_port
from engine.settings import get_settings
from engine.webhooks import generate_secret

TEMPLATE = "Hi {{ first_name | default('there') }}, here is 10% off on your next order!"
FIRST_NAMES = [f"Name{n}" for n in range(2_000)]
EVERYONE = {"field": "total_spend", "op": ">=", "value": 0}


def audience(recipients: int) -> pl.DataFrame:
    """Customers who may all be messaged now, named from a few thousand first names (as real ones are)."""
    ids = pl.int_range(1, recipients + 1, eager=True, dtype=pl.Int64)
    frame = pl.DataFrame({"customer_id": ids}).with_columns(
        first_name=pl.lit(pl.Series(FIRST_NAMES)).get(pl.col("customer_id") % len(FIRST_NAMES)),
        phone=pl.format("+9199{}", pl.col("customer_id").cast(pl.String).str.zfill(8)),
        email=pl.lit(None, pl.String),
        sms_consent=pl.lit(True),
        email_consent=pl.lit(False),
        timezone=pl.lit("UTC"),
        total_spend=(pl.col("customer_id") % 5000).cast(pl.Float64),
    )
    schema = base_catalog().polars_schema()
    return frame.with_columns(pl.col(name).cast(schema[name]) for name in frame.columns)


def baseline_bodies(frame: pl.DataFrame, batch: int) -> list[bytes]:
    """The same messages as the campaign's, as vendor batch requests."""
    rows = frame.select("customer_id", "first_name", "phone").iter_rows()
    messages = [
        {"channel": "sms", "to": phone, "body": f"Hi {name}, here is 10% off on your next order!",
         "idempotency_key": f"raw-{customer_id}", "reference": customer_id}
        for customer_id, name, phone in rows
    ]  # fmt: skip
    return [orjson.dumps({"messages": messages[i : i + batch]}) for i in range(0, len(messages), batch)]


@contextmanager
def vendor(port: int, **env: str) -> Iterator[httpx.Client]:
    argv = [sys.executable, "-m", "uvicorn", "api.vendor.app:create_app", "--factory", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]  # fmt: skip
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        with (
            process(argv, ready_url=f"http://127.0.0.1:{port}/health"),
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
        ):
            os.environ.clear()
            os.environ.update(saved)
            yield client
    finally:
        os.environ.clear()
        os.environ.update(saved)


def wait_for(condition: Any, what: str, timeout_s: float) -> float:
    """Poll `condition` until true; the time it became true."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.05)
    return time.perf_counter()


def receipts_backlog() -> int:
    settings = get_settings()
    backlog = streams.backlog(get_redis(), settings.stream(RECEIPTS), "receipt-appliers")
    return backlog.undelivered + backlog.pending


def applier_alone(campaign_id: int, recipients: int, appliers: int) -> float:
    """Receipts per second for `appliers` appliers side by side, every message's receipt already on the stream."""
    db, client, settings = get_engine(), get_redis(), get_settings()
    with db.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE communication_log SET status = 'sent', delivered_at = NULL, failed_at = NULL, reason = NULL "
            f"WHERE campaign_id = {campaign_id}"
        )
        ids = [
            row[0]
            for row in conn.exec_driver_sql(f"SELECT id FROM communication_log WHERE campaign_id = {campaign_id}")
        ]
    at = datetime.now(UTC).isoformat()
    for start in range(0, len(ids), 500):
        callback = [{"vendor_message_id": f"vm_{i}", "reference": i, "status": "delivered", "reason": None,
                     "occurred_at": at} for i in ids[start : start + 500]]  # fmt: skip
        streams.publish(client, settings.stream(RECEIPTS), callback)
    started = time.perf_counter()
    with ThreadPoolExecutor(appliers) as pool:
        reports = list(pool.map(lambda n: drain_receipts(db, client, settings, consumer=f"bench-{n}"), range(appliers)))
    elapsed = time.perf_counter() - started
    assert sum(report.changed for report in reports) == recipients, reports
    return recipients / elapsed


SINK, AIOSMTPD = "bench.smtp_sink", "tests.engine.channels.smtp_server"  # the relays, as modules run alone


@contextmanager
def smtp_relay(module: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """A real SMTP server (`module`) in a process of its own that counts what it accepts; its port."""
    argv = [sys.executable, "-m", module]
    relay = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert relay.stdout is not None
        yield int(relay.stdout.readline()), relay
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()


def relay_count(relay: subprocess.Popen[str]) -> int:
    """Stop the relay; how many messages it accepted."""
    output, _ = relay.communicate(timeout=30)
    return int(output.split()[-1])


def own_cpu_seconds() -> float:
    """This process's CPU time, without its children (the relay is one, measured apart)."""
    return cpu_seconds(os.getpid(), children=False)


async def smtp_raw(port: int, messages: list[bytes], connections: int) -> float:
    """Seconds to send ready-made `messages` over `connections` reused SMTP connections, nothing else."""
    queue = list(reversed(messages))

    async def worker() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as client:
            while queue:
                await client.sendmail("news@xeno.localhost", ["someone@example.com"], queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - started


def smtp_figures(recipients: int, connections: int, relay_module: str = SINK) -> dict[str, Any]:
    """An e-mail campaign to `recipients` sent through a loopback SMTP server, against raw sends of as many."""
    db, client = get_engine(), get_redis()
    frame = audience(recipients).with_columns(
        email=pl.format("customer{}@example.com", pl.col("customer_id")), email_consent=pl.lit(True)
    )
    with smtp_relay(relay_module) as (port, relay):
        settings = get_settings().model_copy(update={
            "channel_transports": {"email": "smtp"}, "smtp_host": "127.0.0.1", "smtp_port": port,
            "smtp_security": "none", "smtp_connections": connections,
        })  # fmt: skip
        email = get_channel("email")
        ready = [
            mime_bytes(email_content(settings, email, Outgoing(n, f"raw-{n}", "someone@example.com", "Hi", "Hi", n)), 0)
            for n in range(recipients)
        ]
        baseline = recipients / asyncio.run(smtp_raw(port, ready, connections))
        print(f"relay {relay_module}", flush=True)
        print(f"baseline: raw SMTP sends, {connections} connections  {baseline:>10,.0f} messages/s", flush=True)
        draft = CampaignDraft("bench e-mail", "email", TEMPLATE, "10% off, {{ first_name }}", audience_rule=EVERYONE)
        campaign_id = create_campaign(db, draft, base_catalog())
        schedule_campaign(db, campaign_id, datetime.now(UTC) - timedelta(seconds=1))
        launch_campaign(db, client, settings, campaign_id, FrameAudience(frame))
        started, sender_cpu, relay_cpu = time.perf_counter(), own_cpu_seconds(), cpu_seconds(relay.pid)
        report = asyncio.run(run_sender(db, client, settings, consumer="bench-smtp", until_idle=True))
        sent_s = time.perf_counter() - started
        sender_cpu, relay_cpu = own_cpu_seconds() - sender_cpu, cpu_seconds(relay.pid) - relay_cpu
        accepted = relay_count(relay)
    assert report.sent == recipients == message_counts(db, campaign_id).sent, report
    assert accepted == 2 * recipients, accepted
    figure = recipients / sent_s
    print(f"e-mail campaign through SMTP (sender alone)  {figure:>10,.0f} messages/s", flush=True)
    sender_us, relay_us = sender_cpu / recipients * 1e6, relay_cpu / recipients * 1e6
    print(f"  CPU per message: sender {sender_us:,.0f} µs, relay {relay_us:,.0f} µs", flush=True)
    return {
        "smtp_recipients": recipients,
        "smtp_connections": connections,
        "smtp_messages_per_s": round(figure),
        "smtp_baseline": round(baseline),
        "smtp_ratio": round(figure / baseline, 3),
        # What one free core each would carry, whatever else the machine runs: the capacity the wall clock hides.
        "smtp_sender_cpu_us_per_message": round(sender_us),
        "smtp_relay_cpu_us_per_message": round(relay_us),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 recipients")
    parser.add_argument("--batch", type=int, default=1_000, help="messages per vendor request (and stream entry)")
    parser.add_argument("--concurrency", type=int, default=8, help="vendor requests in flight")
    parser.add_argument(
        "--workers",
        default="sender,receipts,housekeeping",
        help="delivery worker processes, '/' between them, each with its parts: e.g. 'sender,housekeeping/receipts'",
    )
    parser.add_argument("--appliers", type=int, default=2, help="receipt appliers side by side, measured alone")
    parser.add_argument("--quick", action="store_true", help="20k recipients (5k by SMTP): under a minute")
    parser.add_argument(
        "--smtp", action="store_true", help="also send an e-mail campaign through a loopback SMTP server"
    )
    parser.add_argument("--smtp-recipients", type=int, default=20_000)
    parser.add_argument("--smtp-connections", type=int, default=8, help="the SMTP connection pool's size")
    args = parser.parse_args()
    recipients = 20_000 if args.quick else 1_000_000 if args.million else args.recipients
    smtp_recipients = 5_000 if args.quick else args.smtp_recipients

    use_fresh_services("xeno_bench_delivery", redis_db=11)
    secret = generate_secret()
    api_port, vendor_port, raw_port = free_port(), free_port(), free_port()
    os.environ.update(
        XENO_RECEIPTS_WEBHOOK_SECRET=secret,
        XENO_DELIVERY_VENDOR_URL=f"http://127.0.0.1:{vendor_port}",
        XENO_DELIVERY_RATE_LIMIT=str(10**7),  # measure capacity, not the configured pace
        XENO_DELIVERY_BATCH_SIZE=str(args.batch),
        XENO_DELIVERY_CONCURRENCY=str(args.concurrency),
        XENO_QUIET_HOURS_START="",
        XENO_FREQUENCY_CAP="0",
    )
    get_settings.cache_clear()
    frame = audience(recipients)

    with vendor(raw_port):
        raw_url, raw_bodies = f"http://127.0.0.1:{raw_port}/v1/messages/batch", baseline_bodies(frame, args.batch)
        raw_s = asyncio.run(
            post_bodies(raw_url, raw_bodies, {"Content-Type": "application/json"}, args.concurrency, 202)
        )
    baseline = recipients / raw_s
    print(f"baseline: raw batch posts to the simulator   {baseline:>10,.0f} messages/s", flush=True)

    db, client, settings = get_engine(), get_redis(), get_settings()
    campaign_id = create_campaign(db, CampaignDraft("bench", "sms", TEMPLATE, audience_rule=EVERYONE), base_catalog())
    schedule_campaign(db, campaign_id, datetime.now(UTC) - timedelta(seconds=1))
    callback_env = {"XENO_VENDOR_CALLBACK_URL": f"http://127.0.0.1:{api_port}/v1/receipts",
                    "XENO_VENDOR_WEBHOOK_SECRET": secret}  # fmt: skip
    with ExitStack() as stack:
        stack.enter_context(api_process(api_port))
        simulator = stack.enter_context(vendor(vendor_port, **callback_env))
        for parts in args.workers.split("/"):
            worker = [sys.executable, "-m", "engine.cli", "deliver", "--parts", parts, "--consumer", f"bench-{parts}"]
            stack.enter_context(process(worker))
        started = time.perf_counter()
        launched = launch_campaign(db, client, settings, campaign_id, FrameAudience(frame))
        launch_s = time.perf_counter() - started
        print(f"launch: evaluate, render, COPY, publish      {launch_s:>10.1f} s", flush=True)
        sent_at = wait_for(lambda: simulator.get("/v1/stats").json()["sent"] >= recipients, "sends", 1800)
        print(f"sent by the vendor                           {sent_at - started:>10.1f} s", flush=True)
        wait_for(lambda: simulator.get("/v1/stats").json()["receipts_pending"] == 0, "receipts posted", 600)
        done_at = wait_for(
            lambda: receipts_backlog() == 0 and message_counts(db, campaign_id).unfinished == 0, "receipts applied", 600
        )
        completed = wait_for(lambda: get_campaign(db, campaign_id).status == "completed", "completion", 60)
        stats = simulator.get("/v1/stats").json()
    total_s = done_at - started
    counts = message_counts(db, campaign_id)
    assert counts.delivered + counts.failed == recipients == launched.queued, counts
    assert stats["sent"] == recipients, stats
    end_to_end = recipients / total_s
    print(f"last receipt applied                         {total_s:>10.1f} s", flush=True)
    print(f"end to end: launch to last receipt           {end_to_end:>10,.0f} messages/s", flush=True)
    applier = applier_alone(campaign_id, recipients, args.appliers)
    print(f"receipts appliers alone ({args.appliers} side by side)     {applier:>10,.0f} receipts/s", flush=True)
    smtp = {}
    if args.smtp:
        smtp = smtp_figures(smtp_recipients, args.smtp_connections)
        aiosmtpd = smtp_figures(smtp_recipients, args.smtp_connections, AIOSMTPD)
        smtp |= {"smtp_aiosmtpd_messages_per_s": aiosmtpd["smtp_messages_per_s"],
                 "smtp_aiosmtpd_baseline": aiosmtpd["smtp_baseline"]}  # fmt: skip
    report({
        "bench": "delivery",
        "recipients": recipients,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "messages_per_s": round(end_to_end),
        "baseline": round(baseline),
        "ratio": round(end_to_end / baseline, 3),
        "total_s": round(total_s, 1),
        "launch_s": round(launch_s, 1),
        "sent_s": round(sent_at - started, 1),
        "completed_s": round(completed - started, 1),
        "delivered": counts.delivered,
        "failed": counts.failed,
        "receipts_applied_per_s": round(applier),
        "appliers": args.appliers,
        "workers": args.workers,
        **smtp,
    })  # fmt: skip


if __name__ == "__main__":
    main()
