"""Erasing a customer: their row and every row held about them go, in one transaction, audited.

Removed: the customer, every table's rows about them (orders, events, communication log, consent history, ...:
`held.customer_tables`) and the dead letters naming them. Kept, as hashes only: every address they had on every
channel (their profile's, and each one a message went to) goes on the suppression list, and the list's entries
lose their address in clear and their customer id, so no later campaign reaches those addresses even if the
customer comes back through ingestion. The features forget them with the next delta (the erasure queues them
as touched, and a delta drops touched customers who no longer exist) and the next full refresh, which the erasure
asks for by counting a change to the feature sources. The audit entry keeps what was removed (counts, never the
data) and who asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, RowMapping, delete, insert, select, text

from engine.auth import audit
from engine.channels import CHANNELS
from engine.consent.suppression import address_hash, suppress
from engine.features.freshness import count_source_change
from engine.privacy.errors import CustomerNotFound
from engine.privacy.held import DEAD_LETTERS_NAMING, as_named, customer_tables
from engine.schema import customers, feature_touched_customers, ingest_dead_letters, suppressions

CUSTOMER_ERASED = "customer.erased"
SOURCE = "erasure"  # where the suppressions an erasure adds came from

LOGGED_ADDRESSES = """
SELECT DISTINCT channel, address FROM communication_log WHERE customer_id = :customer AND address IS NOT NULL
"""
FORGET_ADDRESSES = """
UPDATE suppressions SET address = NULL, customer_id = NULL
WHERE customer_id = :customer OR address_hash = ANY(:hashes)
"""


@dataclass(frozen=True)
class Erasure:
    """What erasing a customer removed (rows per table), and how many of their addresses are now suppressed."""

    customer_id: int
    removed: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0


def erase_customer(db: Engine, customer_id: int, actor: str, ip: str | None = None) -> Erasure:
    """Remove everything held about the customer; `CustomerNotFound` when there is no such customer (any more)."""
    with db.begin() as conn:
        profile = conn.execute(
            select(customers).where(customers.c.id == customer_id).with_for_update()
        ).mappings().one_or_none()  # fmt: skip
        if profile is None:
            raise CustomerNotFound(customer_id)
        addresses = _addresses(conn, profile)
        removed = {
            table.name: conn.execute(delete(table).where(table.c.customer_id == customer_id)).rowcount
            for table in customer_tables()
            if table is not suppressions
        }
        named = text(DEAD_LETTERS_NAMING).bindparams(named=as_named(profile["external_id"]))
        removed["dead_letters"] = conn.execute(delete(ingest_dead_letters).where(named)).rowcount
        removed["customers"] = conn.execute(delete(customers).where(customers.c.id == customer_id)).rowcount
        for channel, address in addresses:
            suppress(conn, channel, address, "manual", SOURCE, detail="the customer was erased")
        hashes = sorted({address_hash(address) for _, address in addresses})
        conn.execute(text(FORGET_ADDRESSES), {"customer": customer_id, "hashes": hashes})
        detail = {"removed": removed, "suppressed": len(addresses)}
        audit.record(conn, actor, CUSTOMER_ERASED, f"customer:{customer_id}", detail, ip)
        conn.execute(insert(feature_touched_customers).values(customer_id=customer_id))
        count_source_change(conn)
    return Erasure(customer_id, removed, len(addresses))


def _addresses(conn: Connection, profile: RowMapping) -> set[tuple[str, str]]:
    """(channel, address) of every address the customer has or had: on their profile, and in the log."""
    held = {(channel.name, profile[channel.address]) for channel in CHANNELS.values() if profile.get(channel.address)}
    logged = conn.execute(text(LOGGED_ADDRESSES), {"customer": profile["id"]})
    return held | {(channel, address) for channel, address in logged}
