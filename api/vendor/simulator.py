"""The vendor's memory: which idempotency keys it has sent, what each message's fate is, and its counters.

Accepting a message decides its outcome at once (delivered or failed, with a reason) and files its receipts
in the outbox for later, shaped by the current `Faults` (late, duplicated, out of order). The outcome is kept
too, as a real provider keeps it for its status lookup, so a receipt that never arrived can be asked for.
Everything here runs on the server's event loop, so no locking; the work per message is two dict writes, a
random draw and two tuples, because the delivery benchmark pushes a million messages through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from api.vendor.config import VendorConfig
from api.vendor.schemas import OutgoingMessage, Reference, Stats
from engine.channels import CHANNELS

Receipt = tuple[str, Reference | None, str, str | None, str]
"""vendor_message_id, reference, status, reason, occurred_at: a receipt as it waits in the outbox."""

RequestFault = Literal["5xx", "429", "timeout"]

Fate = tuple[Receipt, str]
"""A message's final receipt (whenever it falls due) and when the message was accepted."""

# The failures sending again cannot cure (hard bounces); a failed receipt says whether its failure is one, as
# real providers do. The rest are soft: the phone was off, the mailbox full, the carrier busy.
HARD_BOUNCES = frozenset(
    {"invalid number", "invalid address", "blocked as spam", "unsubscribed", "not a whatsapp user"}
)


def undeliverable(channel: str, to: str) -> str | None:
    """Why no carrier could deliver to a malformed address: a phone number must be E.164 (`+` and 7 to 15
    digits), an e-mail address needs a name and a dotted domain. Such messages always fail, whatever the
    failure rate, so a test can make one recipient fail on purpose."""
    address = CHANNELS[channel].address
    if address == "phone":
        well_formed = to.startswith("+") and to[1:].isdigit() and 8 <= len(to) <= 16
        return None if well_formed else "invalid number"
    if address == "email":
        name, _, domain = to.rpartition("@")
        return None if name and "." in domain else "invalid address"
    return None


@dataclass
class Callback:
    """One signed POST of receipts to the CRM; retries keep its `webhook_id` and re-sign with a new time."""

    webhook_id: str
    body: bytes
    receipts: list[Receipt]
    attempts: int = 0


class ReceiptOutbox:
    """Receipts and callbacks waiting for their time, earliest first, and a count of those on the wire."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, list[Receipt] | Callback]] = []
        self._order = itertools.count()
        self._waiting = 0
        self._on_the_wire = 0
        self._earlier_entry = asyncio.Event()

    @property
    def pending(self) -> int:
        """Receipts not yet acknowledged or dropped: waiting, due for a retry, or being posted."""
        return self._waiting + self._on_the_wire

    def add_receipts(self, due: float, receipts: list[Receipt]) -> None:
        self._push(due, receipts)
        self._waiting += len(receipts)

    def add_callback(self, due: float, callback: Callback) -> None:
        self._push(due, callback)
        self._waiting += len(callback.receipts)

    def _push(self, due: float, entry: list[Receipt] | Callback) -> None:
        heapq.heappush(self._heap, (due, next(self._order), entry))
        if self._heap[0][2] is entry:
            self._earlier_entry.set()

    async def wait_until_due(self) -> None:
        """Return once the earliest entry is due, sleeping meanwhile (also while empty) without polling."""
        while not self._heap or self._heap[0][0] > time.monotonic():
            self._earlier_entry.clear()
            timeout = self._heap[0][0] - time.monotonic() if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._earlier_entry.wait(), timeout)

    def take_due(self, now: float) -> tuple[list[Receipt], list[Callback]]:
        """Everything due by `now`: fresh receipts (in due order) and callbacks to retry, now on the wire
        until `posted` is called for the callback that carries them."""
        receipts: list[Receipt] = []
        callbacks: list[Callback] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)[2]
            if isinstance(entry, Callback):
                callbacks.append(entry)
            else:
                receipts.extend(entry)
        taken = len(receipts) + sum(len(c.receipts) for c in callbacks)
        self._waiting -= taken
        self._on_the_wire += taken
        return receipts, callbacks

    def posted(self, callback: Callback) -> None:
        """The attempt to post `callback` is over, whatever its answer."""
        self._on_the_wire -= len(callback.receipts)

    def clear(self) -> None:
        """Drop everything waiting; callbacks already on the wire still finish."""
        self._heap.clear()
        self._waiting = 0


@dataclass
class Counters:
    """What the simulator has done; `Simulator.stats()` reports them."""

    sent: int = 0
    duplicates_suppressed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    receipts_posted: int = 0
    receipts_posted_by_status: Counter[str] = field(default_factory=Counter)
    receipts_dropped: int = 0
    callbacks_posted: int = 0
    callback_failures: int = 0
    status_lookups: int = 0


class Simulator:
    """Idempotent acceptance of messages, their fates, and the receipts they will produce."""

    def __init__(self, config: VendorConfig) -> None:
        self.config = config
        self.faults = config.faults
        self.rng = random.Random(config.seed)
        self.outbox = ReceiptOutbox()
        self.counters = Counters()
        self._id_prefix = f"vm_{self.rng.getrandbits(40):010x}_"
        self._message_numbers = itertools.count(1)
        self._vendor_ids: dict[str, str] = {}
        self._fates: dict[str, Fate] = {}
        self._keys_by_age: deque[tuple[float, list[str]]] = deque()

    @property
    def receipts_wanted(self) -> bool:
        return self.faults.receipts_enabled and self.config.callback_url is not None

    def roll_request_fault(self) -> RequestFault | None:
        """Whether the current send request fails, and how, per the configured error rates."""
        faults = self.faults
        if not (faults.error_rate_5xx or faults.error_rate_429 or faults.timeout_rate):
            return None
        draw = self.rng.random()
        if draw < faults.error_rate_5xx:
            return "5xx"
        if draw < faults.error_rate_5xx + faults.error_rate_429:
            return "429"
        if draw < faults.error_rate_5xx + faults.error_rate_429 + faults.timeout_rate:
            return "timeout"
        return None

    def send(self, messages: Sequence[OutgoingMessage]) -> list[dict[str, object]]:
        """Send each message whose `idempotency_key` (which must be set) is new; one result per message.

        A key seen within the idempotency window gets the vendor id it got the first time and sends nothing.
        """
        now = time.monotonic()
        self._forget_keys_older_than(now - self.config.idempotency_ttl_s)
        planner = _ReceiptPlanner(self, now) if self.receipts_wanted else None
        accepted_at, final_at = self.occurred_at(0), self.occurred_at(self.faults.receipt_delay_ms / 1000)
        results: list[dict[str, object]] = []
        new_keys: list[str] = []
        failures = 0
        vendor_ids, fates, draw, failure_rate = self._vendor_ids, self._fates, self.rng.random, self.faults.failure_rate
        for message in messages:
            key = message["idempotency_key"]
            vendor_id = vendor_ids.get(key)
            if vendor_id is not None:
                results.append({"vendor_message_id": vendor_id, "idempotency_key": key, "duplicate": True})
                continue
            vendor_id = f"{self._id_prefix}{next(self._message_numbers)}"
            vendor_ids[key] = vendor_id
            new_keys.append(key)
            failure = undeliverable(message["channel"], message["to"])
            if failure is None and draw() < failure_rate:
                failure = self.rng.choice(CHANNELS[message["channel"]].failure_reasons)
            failures += failure is not None
            status = "delivered" if failure is None else "failed"
            final: Receipt = (vendor_id, message.get("reference"), status, failure, final_at)
            fates[vendor_id] = (final, accepted_at)
            if planner is not None:
                planner.plan(final)
            results.append({"vendor_message_id": vendor_id, "idempotency_key": key, "duplicate": False})
        if new_keys:
            self._keys_by_age.append((now, new_keys))
        if planner is not None:
            planner.file()
        counters = self.counters
        counters.sent += len(new_keys)
        counters.duplicates_suppressed += len(results) - len(new_keys)
        counters.outcomes["delivered"] += len(new_keys) - failures
        counters.outcomes["failed"] += failures
        return results

    def status(self, vendor_message_id: str) -> Receipt | None:
        """The message's status as a receipt: `sent` until its outcome falls due, then its final receipt, whether or
        not that receipt was ever posted; None for an id never given, or forgotten with its idempotency key."""
        self.counters.status_lookups += 1
        fate = self._fates.get(vendor_message_id)
        if fate is None:
            return None
        final, accepted_at = fate
        vendor_id, reference, _, _, final_at = final
        if final_at > self.occurred_at(0):  # both written by `occurred_at`, so the text sorts as the time does
            return vendor_id, reference, "sent", None, accepted_at
        return final

    def stats(self) -> Stats:
        counters = self.counters
        return Stats(
            sent=counters.sent,
            duplicates_suppressed=counters.duplicates_suppressed,
            outcomes=dict(counters.outcomes),
            responses=dict(counters.responses),
            receipts_pending=self.outbox.pending,
            receipts_posted=counters.receipts_posted,
            receipts_posted_by_status=dict(counters.receipts_posted_by_status),
            receipts_dropped=counters.receipts_dropped,
            callbacks_posted=counters.callbacks_posted,
            callback_failures=counters.callback_failures,
            status_lookups=counters.status_lookups,
        )

    def reset(self) -> None:
        """Forget every message, key, pending receipt and counter (the faults stay as they are)."""
        self._vendor_ids.clear()
        self._fates.clear()
        self._keys_by_age.clear()
        self.outbox.clear()
        self.counters = Counters()

    def _forget_keys_older_than(self, cutoff: float) -> None:
        while self._keys_by_age and self._keys_by_age[0][0] < cutoff:
            for key in self._keys_by_age.popleft()[1]:
                del self._fates[self._vendor_ids.pop(key)]

    def occurred_at(self, seconds_from_now: float) -> str:
        moment = datetime.fromtimestamp(time.time() + seconds_from_now, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _ReceiptPlanner:
    """Files the receipts of one send request in the outbox, grouped by when each is due."""

    def __init__(self, simulator: Simulator, now: float) -> None:
        faults = simulator.faults
        self._simulator = simulator
        self._now = now
        self._rng = simulator.rng
        self._faults = faults
        self._final_delay = faults.receipt_delay_ms / 1000
        self._sent_delay = self._final_delay / 2
        self._late_delay = faults.late_ms / 1000
        self._sent_at = simulator.occurred_at(self._sent_delay)
        self._by_due: defaultdict[float, list[Receipt]] = defaultdict(list)
        self._finals = self._by_due[self._final_delay]
        self._sents = self._by_due[self._sent_delay]
        self._any_message_fault = bool(faults.late_rate or faults.duplicate_rate or faults.out_of_order_rate)

    def plan(self, final: Receipt) -> None:
        """File a message's final receipt, and its `sent` receipt when those are wanted."""
        sent: Receipt | None = None
        if self._faults.sent_receipts:
            sent = (final[0], final[1], "sent", None, self._sent_at)
        if self._any_message_fault:
            self._plan_with_faults(sent, final)
            return
        if sent is not None:
            self._sents.append(sent)
        self._finals.append(final)

    def _plan_with_faults(self, sent: Receipt | None, final: Receipt) -> None:
        rng, faults = self._rng, self._faults
        extra = self._late_delay if rng.random() < faults.late_rate else 0.0
        sent_delay, final_delay = self._sent_delay + extra, self._final_delay + extra
        first: Receipt | None = sent
        second: Receipt | None = final
        if rng.random() < faults.out_of_order_rate:
            first, second = final, sent
        for delay, receipt in ((sent_delay, first), (final_delay, second)):
            if receipt is not None:
                self._by_due[delay].append(receipt)
        if rng.random() < faults.duplicate_rate:
            repeats = self._by_due[final_delay + self._final_delay]
            repeats.extend(r for r in (sent, final) if r is not None)

    def file(self) -> None:
        for delay, receipts in self._by_due.items():
            if receipts:
                self._simulator.outbox.add_receipts(self._now + delay, receipts)
