"""The suppression list: addresses nothing is sent to on a channel, whatever the customer data says.

An address is suppressed by a hard bounce or complaint, an unsubscribe, a STOP reply, or an invalid address, with
its reason, where that came from and when. It is checked twice: at launch, where a suppressed recipient is skipped
with the reason (`skip_suppressed`), and by the sender just before a batch goes out (`filter_sendable`), which also
catches what changed since the launch: an address suppressed meanwhile, a customer who left the campaign's topic.

Addresses are compared normalized (e-mail in lower case, phone numbers without spaces or punctuation) and looked up
by the SHA-256 of that, so the list still works for a customer who was erased (only the hash is kept).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import duckdb
import polars as pl
from sqlalchemy import Connection, Engine, text

Reason = Literal["hard_bounce", "complaint", "unsubscribed", "stop", "invalid_address", "manual"]
REASON_LABELS: dict[Reason, str] = {
    "hard_bounce": "hard bounce",
    "complaint": "spam complaint",
    "unsubscribed": "unsubscribed",
    "stop": "replied STOP",
    "invalid_address": "invalid address",
    "manual": "added by hand",
}
LEFT_TOPIC = "left the topic"
MessageT = TypeVar("MessageT", bound=tuple[Any, ...])  # a queued message: (log id, key, address, ...)
_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")


def normalize(address: str) -> str:
    """The form addresses are compared in: e-mail addresses in lower case, phone numbers without punctuation."""
    address = address.strip()
    return address.lower() if "@" in address else _PHONE_PUNCTUATION.sub("", address)


def address_hash(address: str) -> str:
    """The key of an address on the list: the hex SHA-256 of its normalized form."""
    return hashlib.sha256(normalize(address).encode()).hexdigest()


def address_hashes(addresses: pl.Series) -> pl.Series:
    """`address_hash` of each address (None for a missing one), all at once: normalized with Polars and hashed by
    DuckDB's `sha256`, several times faster than one by one in Python for a snapshot's million addresses. (Python
    and Rust agree on trimming and lower case but for a few control and Unicode characters no address has.)"""
    trimmed = pl.col("address").cast(pl.String).str.strip_chars()
    normalized = (
        pl.when(trimmed.str.contains("@", literal=True))
        .then(trimmed.str.to_lowercase())
        .otherwise(trimmed.str.replace_all(_PHONE_PUNCTUATION.pattern, ""))
    )
    table = pl.DataFrame({"address": addresses}).select(normalized).to_arrow()
    with duckdb.connect() as connection:
        connection.register("addresses", table)
        hashed = connection.sql("SELECT sha256(address) AS address_hash FROM addresses").pl()
    return hashed.to_series().alias("address_hash")


def skip_reason(reason: str) -> str:
    """What a skipped message's log row says about a suppressed address."""
    return f"suppressed: {REASON_LABELS.get(reason, reason)}"  # type: ignore[call-overload]


@dataclass(frozen=True)
class Suppression:
    """One address on the list."""

    id: int
    channel: str
    address: str | None  # None once its customer was erased
    reason: str
    source: str
    detail: str | None
    customer_id: int | None
    campaign_id: int | None
    created_at: datetime


COLUMNS = "id, channel, address, reason, source, detail, customer_id, campaign_id, created_at"
INSERT = """
INSERT INTO suppressions (channel, address_hash, address, reason, source, detail, customer_id, campaign_id)
VALUES (:channel, :hash, :address, :reason, :source, :detail, :customer_id, :campaign_id)
ON CONFLICT (channel, address_hash) DO NOTHING
"""


def suppress(
    conn: Connection,
    channel: str,
    address: str,
    reason: Reason,
    source: str,
    *,
    detail: str | None = None,
    customer_id: int | None = None,
    campaign_id: int | None = None,
) -> bool:
    """Put `address` on the channel's list; False when it was there already (its first reason is kept)."""
    values = {
        "channel": channel, "hash": address_hash(address), "address": normalize(address), "reason": reason,
        "source": source, "detail": detail, "customer_id": customer_id, "campaign_id": campaign_id,
    }  # fmt: skip
    return conn.execute(text(INSERT), values).rowcount == 1


def lift(conn: Connection, channel: str, address: str, reasons: Iterable[str] | None = None) -> bool:
    """Take `address` off the channel's list (only if it is there for one of `reasons`, when given)."""
    found = conn.execute(
        text(
            "DELETE FROM suppressions WHERE channel = :channel AND address_hash = :hash "
            "AND (CAST(:reasons AS text[]) IS NULL OR reason = ANY(CAST(:reasons AS text[])))"
        ),
        {"channel": channel, "hash": address_hash(address), "reasons": None if reasons is None else list(reasons)},
    )
    return found.rowcount > 0


def lift_by_id(conn: Connection, suppression_id: int) -> bool:
    """Take an entry off the list by its id; False when there is none."""
    return conn.execute(text("DELETE FROM suppressions WHERE id = :id"), {"id": suppression_id}).rowcount > 0


def find(conn: Connection, channel: str, address: str) -> Suppression | None:
    """The list's entry for `address` on the channel, if there is one (found by hash, so also once erased)."""
    row = conn.execute(
        text(f"SELECT {COLUMNS} FROM suppressions WHERE channel = :channel AND address_hash = :hash"),
        {"channel": channel, "hash": address_hash(address)},
    ).one_or_none()
    return None if row is None else Suppression(*row)


def list_suppressions(
    conn: Connection, *, channel: str | None = None, before_id: int | None = None, limit: int = 100
) -> list[Suppression]:
    """The list, newest first, `limit` at a time (`before_id`: the last id of the previous page)."""
    rows = conn.execute(
        text(
            f"SELECT {COLUMNS} FROM suppressions WHERE (CAST(:channel AS text) IS NULL OR channel = :channel) "
            "AND (CAST(:before AS bigint) IS NULL OR id < :before) ORDER BY id DESC LIMIT :limit"
        ),
        {"channel": channel, "before": before_id, "limit": limit},
    ).all()
    return [Suppression(*row) for row in rows]


def suppressed_reasons(conn: Connection, channel: str, addresses: Iterable[str]) -> dict[str, str]:
    """The reason each of `addresses` (as given) is suppressed on the channel; those that are not are left out."""
    by_hash: dict[str, list[str]] = {}
    for address in addresses:
        by_hash.setdefault(address_hash(address), []).append(address)
    if not by_hash:
        return {}
    rows = conn.execute(  # one index lookup per address: `= ANY(...)` of a batch's worth made Postgres scan the list
        text(
            "SELECT s.address_hash, s.reason FROM unnest(CAST(:hashes AS text[])) AS h(hash) "
            "JOIN suppressions s ON s.channel = :channel AND s.address_hash = h.hash"
        ),
        {"channel": channel, "hashes": list(by_hash)},
    ).all()
    return {address: reason for key, reason in rows for address in by_hash[key]}


def list_version(conn: Connection, channel: str) -> tuple[int, ...]:
    """What changes whenever the channel's list does (its size, newest id and a checksum of its keys and reasons), so
    a copy of it (`suppressed_keys`) can be kept until then."""
    row = conn.execute(
        text(
            "SELECT count(*), coalesce(max(id), 0), coalesce(sum(hashtext(address_hash || ' ' || reason)), 0) "
            "FROM suppressions WHERE channel = :channel"
        ),
        {"channel": channel},
    ).one()
    return tuple(int(value) for value in row)


def suppressed_keys(conn: Connection, channel: str) -> pl.DataFrame:
    """The channel's whole list: `address_hash` and the `suppressed` reason a skipped message's log row says."""
    rows = conn.execute(
        text("SELECT address_hash, reason FROM suppressions WHERE channel = :channel"), {"channel": channel}
    ).all()
    return pl.DataFrame(
        [(key, skip_reason(reason)) for key, reason in rows],
        schema={"address_hash": pl.String, "suppressed": pl.String},
        orient="row",
    )


def left_topic(topic: str) -> str:
    """What a skipped message's log row says about a customer who left the campaign's topic."""
    return f"{LEFT_TOPIC} {topic!r}"


def topic_version(conn: Connection, topic: str) -> tuple[int, ...]:
    """What changes whenever the customers who left `topic` do (how many, and a checksum of who), so a copy of them
    (`topic_leavers`) can be kept until then."""
    row = conn.execute(
        text("SELECT count(*), coalesce(sum(hashtext(customer_id::text)), 0) FROM topic_optouts WHERE topic = :topic"),
        {"topic": topic},
    ).one()
    return tuple(int(value) for value in row)


def topic_leavers(conn: Connection, topic: str) -> pl.Series:
    """The ids of the customers who left `topic`."""
    ids = conn.execute(text("SELECT customer_id FROM topic_optouts WHERE topic = :topic"), {"topic": topic}).scalars()
    return pl.Series("customer_id", list(ids), dtype=pl.Int64)


def skip_suppressed(conn: Connection, plan: pl.DataFrame, channel: str, topic: str | None) -> pl.DataFrame:
    """The launch's plan (`customer_id`, `address`, `status`, `reason`, `not_before` per recipient) with those whose
    address is suppressed, or who left the campaign's topic, skipped with the reason."""
    sendable = plan.filter(pl.col("status") != "skipped")
    reasons = suppressed_reasons(conn, channel, (a for a in sendable["address"].drop_nulls().unique().to_list()))
    suppressed = pl.DataFrame(
        {"address": list(reasons), "suppressed": [skip_reason(reason) for reason in reasons.values()]},
        schema={"address": pl.String, "suppressed": pl.String},
    )
    left = pl.DataFrame(schema={"customer_id": pl.Int64, "left": pl.String})
    if topic is not None:
        ids = conn.execute(
            text("SELECT customer_id FROM topic_optouts WHERE topic = :topic AND customer_id = ANY(:ids)"),
            {"topic": topic, "ids": sendable["customer_id"].to_list()},
        ).scalars()
        left = pl.DataFrame({"customer_id": list(ids), "left": left_topic(topic)}, schema=left.schema)
    joined = plan.join(suppressed, on="address", how="left", maintain_order="left").join(
        left, on="customer_id", how="left", maintain_order="left"
    )
    return skip_blocked(joined.with_columns(blocked=pl.coalesce("suppressed", "left")))


def skip_blocked(plan: pl.DataFrame) -> pl.DataFrame:
    """A launch's plan whose `blocked` column says why a recipient may not be sent to (None: nothing against them),
    with those not skipped already skipped for that reason (`blocked` is dropped)."""
    blocked = pl.col("status").ne("skipped") & pl.col("blocked").is_not_null()
    return plan.select(
        "customer_id",
        "address",
        pl.when(blocked).then(pl.lit("skipped")).otherwise(pl.col("status")).alias("status"),
        pl.when(blocked).then(pl.col("blocked")).otherwise(pl.col("reason")).alias("reason"),
        pl.when(blocked).then(None).otherwise(pl.col("not_before")).alias("not_before"),
    )


SKIP_MESSAGES = """
UPDATE communication_log l SET status = 'skipped', reason = v.reason
FROM unnest(CAST(:ids AS bigint[]), CAST(:reasons AS text[])) AS v(id, reason)
WHERE l.id = v.id AND l.status IN ('pending', 'queued')
"""
TOPIC_LEAVERS = """
SELECT l.id, c.topic FROM communication_log l
JOIN campaigns c ON c.id = l.campaign_id
JOIN topic_optouts t ON t.customer_id = l.customer_id AND t.topic = c.topic
WHERE l.id = ANY(:ids)
"""


def filter_sendable(db: Engine, channel: str, messages: list[MessageT]) -> list[MessageT]:
    """The messages (`campaigns.queue.Message`s: log id first, address third) that may still go out just before
    sending: those to a suppressed address, or to a customer who left the campaign's topic since the launch, are
    skipped in the log with the reason and left out."""
    if not messages:
        return messages
    with db.begin() as conn:
        reasons = suppressed_reasons(conn, channel, {message[2] for message in messages})
        blocked = {message[0]: skip_reason(reasons[message[2]]) for message in messages if message[2] in reasons}
        rows = conn.execute(text(TOPIC_LEAVERS), {"ids": [message[0] for message in messages]}).all()
        for log_id, topic in rows:
            blocked.setdefault(log_id, left_topic(topic))
        if blocked:
            conn.execute(text(SKIP_MESSAGES), {"ids": list(blocked), "reasons": list(blocked.values())})
    return [message for message in messages if message[0] not in blocked]
