"""Redis Streams plumbing shared by every stream of the product (ingest, delivery, receipts, AI).

A producer `publish`es one entry of JSON; consumers in a group `read` new entries after `reclaim`ing
the ones a crashed consumer left pending, and `ack` them only once their effect is durable. Acknowledged
entries are deleted, so a stream holds only what is still to be done and its length is its backlog.

`StreamConsumer` is the one consumer loop every stream uses: reclaim (entries idle past the claim timeout)
→ read (new entries) → apply → ack, bounded in batches and in time. While an apply runs, a keep-alive thread
re-claims the consumer's own entries every third of the claim timeout, so however long the apply takes no
other consumer takes them over; once the consumer dies its entries go idle and the next one reclaims them.
An entry handed out more than `max_deliveries` times (its consumers kept dying on it) is given up on
instead of applied, so one poison entry cannot crash consumers forever. Only deaths count: when an apply
raises (Postgres down, a deadlock), the consumer gives back the delivery of the entries it still holds
before re-raising, so an outage never turns a batch into poison. A run that ends holding nothing removes
its consumer from the group, so consumers named per run (Dagster's) do not pile up there.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import orjson
import redis

from engine.observability.tracing import Span, consume_span, inject_context

log = logging.getLogger(__name__)

PAYLOAD = b"payload"
MAX_DELIVERIES = 3  # an entry handed out more often than this is given up on


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id and its decoded JSON payload (None when it could not be decoded), how many times
    the group has handed it out, this time included (more than one: a consumer took it before and died), and the
    trace context of the span that published it (`traceparent`; empty when it was not traced)."""

    id: str
    payload: Any
    raw: bytes
    error: str | None = None
    deliveries: int = 1
    trace_context: dict[str, str] = field(default_factory=dict)


def entry_fields(payload: Any, encoded: bytes | None = None) -> dict[bytes, bytes]:
    """The fields of the entry that carries `payload` (for sync and asyncio clients alike), with the trace context
    of the current span when there is one (`engine.observability.tracing`). `encoded` is the payload already written
    as JSON by `orjson.dumps`, when the caller has it."""
    fields = {PAYLOAD: orjson.dumps(payload) if encoded is None else encoded}
    for name, value in inject_context({}).items():
        fields[name.encode()] = value.encode()
    return fields


def entry_id_text(entry_id: bytes | str) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def default_consumer_name() -> str:
    """A consumer name unique to this process: its host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


def publish(client: redis.Redis, stream: str, payload: Any) -> str:
    """Append one entry; Redis answers only after it is in its append-only file (when persistence is on)."""
    return entry_id_text(client.xadd(stream, entry_fields(payload)))  # type: ignore[arg-type]


def ensure_group(client: redis.Redis, stream: str, group: str) -> None:
    """Create the consumer group (and the stream) if missing; it starts from the first entry."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def _decode(entry_id: bytes | str, fields: dict[bytes, bytes] | None) -> Entry:
    ident = entry_id_text(entry_id)
    raw = (fields or {}).get(PAYLOAD, b"")
    context = {name.decode(): value.decode() for name, value in (fields or {}).items() if name != PAYLOAD}
    try:
        return Entry(ident, orjson.loads(raw), raw, trace_context=context)
    except orjson.JSONDecodeError as error:
        return Entry(ident, None, raw, f"undecodable payload: {error}", trace_context=context)


def reclaim(client: redis.Redis, stream: str, group: str, consumer: str, min_idle_ms: int, count: int) -> list[Entry]:
    """Take over entries other consumers read but did not acknowledge within `min_idle_ms`, each with its
    delivery count (this one included)."""
    entries: list[Entry] = []
    cursor = "0-0"
    while len(entries) < count:
        answer: Any = client.xautoclaim(stream, group, consumer, min_idle_ms, cursor, count - len(entries))
        cursor_raw, claimed, *_ = answer
        entries.extend(_decode(entry_id, fields) for entry_id, fields in claimed if fields is not None)
        cursor = cursor_raw.decode() if isinstance(cursor_raw, bytes) else str(cursor_raw)
        if cursor == "0-0":
            break
    return _with_deliveries(client, stream, group, entries)


def _with_deliveries(client: redis.Redis, stream: str, group: str, entries: list[Entry]) -> list[Entry]:
    if not entries:
        return entries
    with client.pipeline(transaction=False) as pipe:
        for entry in entries:
            pipe.xpending_range(stream, group, entry.id, entry.id, 1)
        answers: list[Any] = pipe.execute()
    counts = [int(answer[0]["times_delivered"]) if answer else 1 for answer in answers]
    return [replace(entry, deliveries=count) for entry, count in zip(entries, counts, strict=True)]


def read(client: redis.Redis, stream: str, group: str, consumer: str, count: int, block_ms: int | None) -> list[Entry]:
    """Read up to `count` entries no consumer of the group has seen yet."""
    answer: Any = client.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
    if not answer:
        return []
    _, messages = answer[0]
    return [_decode(entry_id, fields) for entry_id, fields in messages]


def ack(client: redis.Redis, stream: str, group: str, entry_ids: list[str]) -> None:
    """Acknowledge and delete entries whose effect is committed, atomically."""
    if not entry_ids:
        return
    with client.pipeline(transaction=True) as pipe:
        pipe.xack(stream, group, *entry_ids)
        pipe.xdel(stream, *entry_ids)
        pipe.execute()


def ids(entries: Collection[Entry]) -> list[str]:
    return [entry.id for entry in entries]


@dataclass(frozen=True)
class Backlog:
    """How far a group is behind: entries not yet delivered, and delivered but unacknowledged."""

    undelivered: int
    pending: int


def backlog(client: redis.Redis, stream: str, group: str) -> Backlog:
    pending = 0
    try:
        for info in client.xinfo_groups(stream):
            if info["name"] in (group, group.encode()):
                pending = int(info["pending"])
    except redis.ResponseError:
        return Backlog(0, 0)
    return Backlog(max(int(client.xlen(stream)) - pending, 0), pending)


def abandoned(client: redis.Redis, stream: str, group: str, idle_ms: int, at_most: int = 1000) -> int:
    """How many (up to `at_most`) entries the group's consumers took and left idle for `idle_ms` or more: a live
    consumer keeps claiming what it works on, so these are a dead one's, waiting to be reclaimed."""
    try:
        return len(client.xpending_range(stream, group, min="-", max="+", count=at_most, idle=idle_ms))
    except redis.ResponseError:
        return 0


# Claim again, as consumer ARGV[2] of group ARGV[1], those of the entries ARGV[4...] it still holds: XCLAIM with
# JUSTID resets their idle time without counting a delivery; with ARGV[3] = '1' it also takes back the delivery
# that handed them to this consumer (RETRYCOUNT one less). Checked and claimed in one step, so an entry another
# consumer took over (this one stalled past the claim timeout) is left to it rather than taken back.
CLAIM_OWN_SCRIPT = """
local kept = {}
for i = 4, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    if ARGV[3] == '1' then
      local count = math.max(pending[1][4] - 1, 0)
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'RETRYCOUNT', count, 'JUSTID')
    else
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    end
    table.insert(kept, ARGV[i])
  end
end
return kept
"""

# Remove consumer ARGV[2] from group ARGV[1] if it holds no entry (XGROUP DELCONSUMER would drop the ones it
# holds from the group's pending list, and no other consumer could reclaim them); 1 if it was removed.
LEAVE_IF_IDLE_SCRIPT = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


@dataclass
class ConsumerReport:
    """What a consumer loop did: entries acknowledged (of them, reclaimed from a dead consumer, and given up on
    as poison), batches, and why it stopped: `drained` (nothing left), `max_batches` or `max_seconds`."""

    entries: int = 0
    reclaimed: int = 0
    given_up: int = 0
    batches: int = 0
    stopped: str = ""


Report = TypeVar("Report", bound=ConsumerReport)


@dataclass(frozen=True)
class StreamConsumer:
    """One consumer of a stream's group: reclaims, reads, keeps claimed and acknowledges its entries.

    Sync consumers call `run`; the asyncio sender, with many entries in flight, uses the parts (`next_batch`,
    `keep_alive` over its live set of entries in flight, `ack`) from its own loop.
    """

    client: redis.Redis
    stream: str
    group: str
    name: str
    claim_idle_ms: int
    batch_size: int
    max_deliveries: int = MAX_DELIVERIES

    def ensure_group(self) -> None:
        ensure_group(self.client, self.stream, self.group)

    def next_batch(
        self, block_ms: int | None = None, count: int | None = None, held: Collection[str] = ()
    ) -> list[Entry]:
        """Up to `count` (else `batch_size`) entries: those idle past the claim timeout first, else new ones,
        waiting up to `block_ms` for them (None: not at all). Entries in `held` (this consumer's own, in
        flight) are not taken as reclaimed."""
        room = count or self.batch_size
        reclaimed = reclaim(self.client, self.stream, self.group, self.name, self.claim_idle_ms, room)
        reclaimed = [entry for entry in reclaimed if entry.id not in held]
        if reclaimed:
            return reclaimed
        return read(self.client, self.stream, self.group, self.name, room, block_ms)

    def _claim_own(self, entry_ids: Collection[str], give_back: bool) -> list[str]:
        if not entry_ids:
            return []
        script = self.client.register_script(CLAIM_OWN_SCRIPT)
        kept: Any = script(keys=[self.stream], args=[self.group, self.name, int(give_back), *entry_ids])
        return [entry_id_text(entry_id) for entry_id in kept]

    def keep_claimed(self, entry_ids: Collection[str]) -> list[str]:
        """Reset the idle time of those of `entry_ids` this consumer still holds; the ones it still holds."""
        return self._claim_own(entry_ids, give_back=False)

    def give_back(self, entry_ids: Collection[str]) -> list[str]:
        """Take back the delivery that handed `entry_ids` to this consumer, for those it still holds (returned), so
        a failure it saw and survived does not count toward the poison limit: the next consumer to take them gets
        them with the delivery count they had before."""
        return self._claim_own(entry_ids, give_back=True)

    def leave_if_idle(self) -> bool:
        """Remove this consumer from the group if it holds no entries; whether it did. Redis adds it back if it
        reads again."""
        script = self.client.register_script(LEAVE_IF_IDLE_SCRIPT)
        return bool(script(keys=[self.stream], args=[self.group, self.name]))

    @property
    def keep_alive_interval_s(self) -> float:
        """A third of the claim timeout (at least 10 ms, so a zero timeout does not spin)."""
        return max(self.claim_idle_ms / 3, 10) / 1000

    @contextmanager
    def keep_alive(self, entry_ids: Collection[str]) -> Iterator[None]:
        """Keep `entry_ids` claimed while the block runs: a thread claims them again every third of the claim
        timeout. `entry_ids` may be a set that changes meanwhile (the sender's entries in flight)."""
        done = threading.Event()

        def keep() -> None:
            while not done.wait(self.keep_alive_interval_s):
                held = tuple(entry_ids)
                try:
                    kept = self.keep_claimed(held)
                except redis.RedisError:
                    log.exception("%s: could not keep entries claimed; trying again", self.stream)
                    continue
                if lost := set(held).intersection(entry_ids) - set(kept):
                    log.warning("%s: entries %s were taken over by another consumer", self.stream, sorted(lost))

        thread = threading.Thread(target=keep, name=f"keep-alive {self.stream}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def ack(self, entry_ids: list[str]) -> None:
        ack(self.client, self.stream, self.group, entry_ids)

    def span(self, entries: Collection[Entry]) -> AbstractContextManager[Span]:
        """The trace span of handling `entries`: in the trace of the first that was published in one, linked to
        each's (`engine.observability.tracing`)."""
        attributes: dict[str, str | int] = {
            "messaging.system": "redis", "messaging.destination.name": self.stream,
            "messaging.consumer.group.name": self.group, "messaging.batch.message_count": len(entries),
        }  # fmt: skip
        return consume_span(f"process {self.stream}", [entry.trace_context for entry in entries], attributes)

    def poisoned(self, entry: Entry) -> bool:
        """Whether consumers were handed `entry` more than `max_deliveries` times without acknowledging it."""
        return entry.deliveries > self.max_deliveries

    def run(
        self,
        apply: Callable[[list[Entry]], object],
        give_up: Callable[[list[Entry]], object],
        report: Report,
        *,
        max_batches: int | None = None,
        max_seconds: float | None = None,
        block_ms: int | None = None,
        on_batch: Callable[[Report], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        ready: Callable[[], bool] | None = None,
    ) -> Report:
        """Reclaim or read a batch, `give_up` on its poison entries and acknowledge them, `apply` the others and
        acknowledge them; again until nothing is left, or `max_batches` were done, or `max_seconds` have passed
        (checked after each batch), or `ready`, asked before each read, says there is nothing for this consumer
        (stopped as `drained`). Then the consumer leaves the group if it holds nothing (`leave_if_idle`).

        `apply` and `give_up` make their effect durable before returning. If either raises (Postgres is down,
        a deadlock), the entries not yet acknowledged stay pending, reclaimed once idle, and their delivery is
        given back (`give_back`): only a consumer that dies with entries counts toward the poison limit.
        `report` is filled in as it goes (and handed to `on_batch`).
        """
        self.ensure_group()
        started = clock()
        while True:
            if max_batches is not None and report.batches >= max_batches:
                report.stopped = "max_batches"
                break
            entries = self.next_batch(block_ms) if ready is None or ready() else []
            if not entries:
                report.stopped = "drained"
                break
            poison = [entry for entry in entries if self.poisoned(entry)]
            sound = [entry for entry in entries if not self.poisoned(entry)]
            with self.span(entries):
                self._settle([(poison, give_up), (sound, apply)])
            report.entries += len(entries)
            report.reclaimed += sum(entry.deliveries > 1 for entry in entries)
            report.given_up += len(poison)
            report.batches += 1
            if on_batch:
                on_batch(report)
            if max_seconds is not None and clock() - started >= max_seconds:
                report.stopped = "max_seconds"
                break
        self.leave_if_idle()
        return report

    def _settle(self, steps: list[tuple[list[Entry], Callable[[list[Entry]], object]]]) -> None:
        """Hand each step's entries to its handler and acknowledge them as soon as it returns, keeping the entries
        not acknowledged yet claimed meanwhile; if a handler raises, give back those and re-raise."""
        held = {entry.id for entries, _ in steps for entry in entries}
        try:
            with self.keep_alive(held):
                for entries, handle in steps:
                    if entries:
                        handle(entries)
                        held.difference_update(ids(entries))
                        self.ack(ids(entries))
        except Exception:
            try:
                self.give_back(held)
            except redis.RedisError:
                log.exception("%s: could not give back the delivery of %s", self.stream, sorted(held))
            raise
