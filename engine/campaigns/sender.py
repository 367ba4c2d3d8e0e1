"""Senders: drain the delivery stream into each channel's transport, and record what became of each message.

A sender reads entries with the `senders` consumer group (several senders share the work), keeps up to
`delivery_concurrency` entries in flight, paces them with the shared `delivery_rate_limit` and the channel's own
(`channel_rate_limits`), and hands each entry's messages to the transport the settings chose for its channel
(`engine.channels.transports`: the vendor simulator, SMTP, a provider's HTTP API), opened once for the sender's
lifetime over one aiohttp session. Transports retry what may succeed later (timeouts, connection errors, 408,
425, 429 with its Retry-After, 5xx, an SMTP 4xx) with exponential backoff and jitter, up to
`delivery_max_attempts`, and say per message whether the provider took it or why not. Each message carries its
idempotency key, so a retry of a request the vendor simulator did receive sends nothing twice (providers without
keys are told in their modules).

Results are written with one UPDATE per batch (queued → sent with the vendor's message id, or failed),
and the entry is acknowledged only after that commits. Reading, reclaiming and acknowledging are the shared
consumer's (`streams.StreamConsumer`), and its keep-alive keeps every entry in flight claimed however long
its retries take. A sender that dies leaves its entries pending in the group; another reclaims them once they
have been idle for `delivery_claim_idle_ms` and posts them again under the same keys, which is always safe.

An entry is also left pending, to be reclaimed and posted again, when handling it fails. When that is no fault of
its own (the provider refuses the sender itself: credentials, URL; Postgres or Redis out of reach), its delivery is
given back (`StreamConsumer.give_back`), so it is tried for as long as that lasts and no message is blamed. When
the vendor takes a batch with an answer that does not give each message's result (it may have taken them), the
delivery counts, as does a sender dying with the entry: past the shared poison limit (`StreamConsumer.poisoned`,
handed out more than `MAX_DELIVERIES` times) the entry is not posted again but its unsent messages fail,
transiently, with the reason (`failures.NOT_ACCEPTED`: "retry the failed" re-sends them under the same keys), and
it is acknowledged. An entry that is not a delivery entry at all is logged with its body and acknowledged: nothing
could ever send it.

Messages of a paused campaign go back to pending (resuming queues them again); those of a cancelled
campaign are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import aiohttp
import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.campaigns.failures import NOT_ACCEPTED, failure_kind
from engine.campaigns.queue import GROUP, STREAM, DeliveryEntry
from engine.campaigns.ratelimit import DeliveryRateLimit
from engine.channels import UnknownChannel, get_channel
from engine.channels.base import Outgoing
from engine.channels.transports import close_transports, open_transports
from engine.channels.transports.base import Outcome, ProviderMisconfigured, Transport, UnreadableAnswer
from engine.connections import psycopg_connection
from engine.consent.suppression import filter_sendable
from engine.observability.logs import log_context, note
from engine.observability.metrics import MESSAGES, RATE_LIMIT_WAIT
from engine.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUS_CACHE_S = 0.5

# Sent messages are COPied into a staging table, then one UPDATE per batch (a receipt may have come first:
# the status then stays where the receipt put it, and only the time and the vendor's id are filled in).
SENT_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_sent (id bigint, vendor_message_id text) ON COMMIT DELETE ROWS
"""
MARK_SENT = """
UPDATE communication_log l SET
    status = CASE WHEN l.status IN ('pending', 'queued') THEN 'sent' ELSE l.status END,
    sent_at = COALESCE(l.sent_at, %(now)s),
    vendor_message_id = COALESCE(l.vendor_message_id, v.vendor_message_id),
    attempts = l.attempts + %(attempts)s
FROM stage_sent v
WHERE l.id = v.id
"""
MARK_FAILED = """
UPDATE communication_log l SET status = 'failed', reason = v.reason, failure_kind = v.kind, failed_at = %(now)s,
    attempts = l.attempts + %(attempts)s
FROM unnest(%(ids)s::bigint[], %(reasons)s::text[], %(kinds)s::text[]) AS v(id, reason, kind)
WHERE l.id = v.id AND l.status IN ('pending', 'queued')
"""
LOCKED_STATUS = "SELECT status FROM campaigns WHERE id = :id FOR SHARE"
BACK_TO_PENDING = """
UPDATE communication_log SET status = 'pending' WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'queued'
"""
SKIP = """
UPDATE communication_log SET status = 'skipped', reason = :reason
WHERE id = ANY(CAST(:ids AS bigint[])) AND status IN ('pending', 'queued')
"""


@dataclass
class SenderReport:
    """What a sender did: entries handled and messages by outcome."""

    entries: int = 0
    reclaimed: int = 0
    dropped: int = 0  # entries that were not delivery entries
    given_up: int = 0  # entries that failed past the poison limit, their unsent messages failed
    sent: int = 0  # accepted by the provider, including those it recognised by their key
    duplicates: int = 0  # of those, the ones the provider had already accepted before
    failed: int = 0
    requeued: int = 0  # of paused campaigns
    skipped: int = 0  # of cancelled campaigns, and to suppressed addresses or customers who left the topic
    retries: int = 0
    rate_limited_s: float = 0.0


def _delivery_entry(entry: streams.Entry) -> DeliveryEntry | None:
    """The messages `entry` carries; None, logged with its body for people to look into, when it is not a delivery
    entry (nothing could ever send it)."""
    try:
        if entry.error is not None:
            raise ValueError(entry.error)
        delivery = DeliveryEntry.from_payload(entry.payload)
        if not delivery.messages:
            raise ValueError("no messages")
        return delivery
    except ValueError as problem:
        log.error("dropping delivery entry %s (%s): %s", entry.id, problem, entry.raw.decode(errors="replace"))
        return None


class Sender:
    """One sender process's state: the transports, the rate limits, and the campaign statuses it saw."""

    def __init__(
        self,
        db: Engine,
        client: redis.Redis,
        settings: Settings,
        transports: dict[str, Transport],
        executor: ThreadPoolExecutor,
        consumer: str,
    ) -> None:
        self.db = db
        self.client = client
        self.settings = settings
        self.transports = transports
        self.executor = executor
        self.consumer = streams.StreamConsumer(
            client, settings.stream(STREAM), GROUP, consumer, settings.delivery_claim_idle_ms,
            settings.delivery_concurrency,
        )  # fmt: skip
        self.report = SenderReport()
        self.limit = DeliveryRateLimit(
            client, settings.redis_key("delivery:rate"), settings.delivery_rate_limit, self._blocking
        )
        self.channel_limits = {
            channel: DeliveryRateLimit(client, settings.redis_key(f"delivery:rate:{channel}"), rate, self._blocking)
            for channel, rate in settings.channel_rate_limits.items()
        }
        self._statuses: dict[int, tuple[float, str | None]] = {}
        self._in_flight: set[str] = set()

    async def _blocking(self, call: Callable[[], T]) -> T:
        """`call` in the sender's threads, its log lines carrying the context of the entry it is for."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, contextvars.copy_context().run, call)

    async def run(self, stop: asyncio.Event, *, until_idle: bool = False, block_ms: int = 500) -> SenderReport:
        """Send until `stop` is set (or, with `until_idle`, until the stream has nothing left for this group)."""
        await self._blocking(self.consumer.ensure_group)
        with self.consumer.keep_alive(self._in_flight):
            await self._send_until(stop, until_idle, block_ms)
        return self.report

    async def _send_until(self, stop: asyncio.Event, until_idle: bool, block_ms: int) -> None:
        """Keep up to `delivery_concurrency` entries in flight; those in flight finish even when reading the next
        ones fails (Redis out of reach), so none is cut off half-way."""
        tasks: set[asyncio.Task[None]] = set()
        concurrency = self.settings.delivery_concurrency
        try:
            while not stop.is_set():
                if len(tasks) >= concurrency:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                entries = await self._next_entries(concurrency - len(tasks), None if until_idle else block_ms)
                if not entries:
                    if until_idle and not tasks:
                        break
                    if until_idle:
                        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                for entry in entries:
                    self._in_flight.add(entry.id)
                    task = asyncio.create_task(self._handle(entry))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            if tasks:
                await asyncio.wait(tasks)

    async def _next_entries(self, room: int, block_ms: int | None) -> list[streams.Entry]:
        entries = await self._blocking(lambda: self.consumer.next_batch(block_ms, room, held=set(self._in_flight)))
        self.report.reclaimed += sum(entry.deliveries > 1 for entry in entries)
        return entries

    async def _handle(self, entry: streams.Entry) -> None:
        """Deliver `entry` and acknowledge it, or leave it pending; its log lines carry its campaign's id."""
        with log_context():
            try:
                with self.consumer.span([entry]):
                    await self._apply(entry)
                await self._blocking(lambda: self.consumer.ack([entry.id]))
                self.report.entries += 1
            except UnreadableAnswer:
                log.exception(
                    "delivery entry %s stays pending, to be posted again under the same keys (handed out %d times)",
                    entry.id, entry.deliveries,
                )  # fmt: skip
            except ProviderMisconfigured as problem:
                log.error("the provider refused the sender itself (%s); entry %s stays pending", problem, entry.id)
                await self._give_back(entry)
                await asyncio.sleep(self.settings.delivery_backoff_max_s)
            except Exception:
                log.exception("delivery entry %s failed; it stays pending and will be reclaimed", entry.id)
                await self._give_back(entry)
            finally:
                self._in_flight.discard(entry.id)

    async def _apply(self, entry: streams.Entry) -> None:
        delivery = _delivery_entry(entry)
        if delivery is None:
            self.report.dropped += 1
            return
        note(campaign_id=delivery.campaign_id)
        if self.consumer.poisoned(entry):
            await self._give_up(entry, delivery)
        else:
            await self._deliver(delivery)

    async def _give_back(self, entry: streams.Entry) -> None:
        """Take back the delivery of an entry whose handling failed for no fault of its own (Postgres or Redis out
        of reach, the provider refusing the sender), so that does not count toward the poison limit."""
        try:
            await self._blocking(lambda: self.consumer.give_back([entry.id]))
        except redis.RedisError:
            log.exception("could not give back the delivery of entry %s", entry.id)

    async def _give_up(self, entry: streams.Entry, delivery: DeliveryEntry) -> None:
        """Fail the messages not yet sent of an entry past the poison limit (its vendor answers could not be read,
        or senders died on it), transiently, with the reason, instead of posting it again."""
        reason = f"{NOT_ACCEPTED}{entry.deliveries - 1} tries of its batch (none read the vendor's answer; given up on)"
        given_up = Outcome(failed=[(message[0], reason) for message in delivery.messages])
        log.error("giving up on delivery entry %s (campaign %d), handed out %d times: its %d messages fail",
                  entry.id, delivery.campaign_id, entry.deliveries, len(given_up.failed))  # fmt: skip
        await self._blocking(lambda: self._record(given_up))
        self.report.given_up += 1
        self.report.failed += len(given_up.failed)

    async def _campaign_status(self, campaign_id: int) -> str | None:
        seen_at, status = self._statuses.get(campaign_id, (0.0, None))
        if time.monotonic() - seen_at > STATUS_CACHE_S:
            status = await self._blocking(lambda: self._read_status(campaign_id))
            self._statuses[campaign_id] = (time.monotonic(), status)
        return status

    def _read_status(self, campaign_id: int) -> str | None:
        with self.db.connect() as conn:
            found = conn.execute(text("SELECT status FROM campaigns WHERE id = :id"), {"id": campaign_id})
            return found.scalar_one_or_none()

    async def _deliver(self, entry: DeliveryEntry) -> None:
        ids = [message[0] for message in entry.messages]
        if await self._campaign_status(entry.campaign_id) != "sending":
            await self._hold_back(entry.campaign_id, ids)
            return
        # Just before sending: messages to a suppressed address or a customer who left the topic are skipped.
        sendable = await self._blocking(lambda: filter_sendable(self.db, entry.channel, entry.messages))
        self.report.skipped += len(entry.messages) - len(sendable)
        if not sendable:
            return
        try:
            channel = get_channel(entry.channel)
        except UnknownChannel as problem:  # a channel taken out of the registry with messages still queued
            outcome = Outcome(failed=[(log_id, str(problem)) for log_id in ids])
        else:
            messages = [Outgoing(*message) for message in sendable]
            await self._pace(channel.name, len(messages))
            outcome = await self.transports[channel.name].send(channel, messages)
        await self._blocking(lambda: self._record(outcome))
        self.report.sent += len(outcome.sent)
        self.report.duplicates += outcome.duplicates
        self.report.failed += len(outcome.failed)
        MESSAGES.labels(entry.channel, "sent").inc(len(outcome.sent))
        MESSAGES.labels(entry.channel, "duplicate").inc(outcome.duplicates)
        MESSAGES.labels(entry.channel, "failed").inc(len(outcome.failed))
        self.report.retries += max(0, outcome.attempts - 1)

    async def _pace(self, channel: str, count: int) -> None:
        """Wait for the turn of `count` messages under the overall rate limit and the channel's own."""
        waited = await self.limit.acquire(count)
        RATE_LIMIT_WAIT.labels("overall").inc(waited)
        if channel in self.channel_limits:
            waited_here = await self.channel_limits[channel].acquire(count)
            RATE_LIMIT_WAIT.labels(channel).inc(waited_here)
            waited += waited_here
        self.report.rate_limited_s += waited

    async def _hold_back(self, campaign_id: int, ids: list[int]) -> None:
        """Messages of a campaign that was not sending when last seen. What becomes of them is decided under a
        share lock on the campaign, so a cancel, pause or resume committed since the status was read cannot
        leave them stranded: paused (or resumed meanwhile) → back to pending, which housekeeping queues again
        once the campaign sends; anything else → skipped with the reason."""

        def decide() -> tuple[int, int]:
            with self.db.begin() as conn:
                status = conn.execute(text(LOCKED_STATUS), {"id": campaign_id}).scalar_one_or_none()
                if status in ("paused", "sending"):
                    return conn.execute(text(BACK_TO_PENDING), {"ids": ids}).rowcount, 0
                reason = f"campaign {status or 'deleted'}"
                return 0, conn.execute(text(SKIP), {"ids": ids, "reason": reason}).rowcount

        requeued, skipped = await self._blocking(decide)
        self.report.requeued += requeued
        self.report.skipped += skipped

    def _record(self, outcome: Outcome) -> None:
        times = {"now": datetime.now(UTC), "attempts": outcome.attempts}
        with self.db.begin() as conn, psycopg_connection(conn).cursor() as cursor:
            if outcome.sent:
                cursor.execute(SENT_STAGING)
                with cursor.copy("COPY stage_sent FROM STDIN") as copy:
                    for row in outcome.sent:
                        copy.write_row(row)
                cursor.execute(MARK_SENT, times)
            if outcome.failed:
                ids, reasons = zip(*outcome.failed, strict=True)
                kinds = [failure_kind(reason) for reason in reasons]
                cursor.execute(MARK_FAILED, {"ids": list(ids), "reasons": list(reasons), "kinds": kinds, **times})


async def run_sender(
    db: Engine,
    client: redis.Redis,
    settings: Settings,
    *,
    consumer: str,
    stop: asyncio.Event | None = None,
    until_idle: bool = False,
) -> SenderReport:
    """Run one sender until `stop` is set, or with `until_idle` until nothing is left to send."""
    timeout = aiohttp.ClientTimeout(total=settings.delivery_request_timeout_s)
    connector = aiohttp.TCPConnector(limit=settings.delivery_concurrency * 2)
    with ThreadPoolExecutor(settings.delivery_concurrency + 4, thread_name_prefix="sender") as executor:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, json_serialize=str) as session:
            transports = open_transports(settings, session)
            try:
                sender = Sender(db, client, settings, transports, executor, consumer)
                return await sender.run(stop or asyncio.Event(), until_idle=until_idle)
            finally:
                await close_transports(transports)
