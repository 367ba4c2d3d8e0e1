"""Who of an audience a campaign will actually reach: the one place the launch and every preview ask.

`contact_plan` runs the contact policy (consent, address, frequency caps, quiet hours) and the suppression list
(suppressed addresses, customers who left the topic) over the audience's feature rows; the launch writes its log
from that plan, so what a preview counts with `reach_of` is what a launch at the same moment does (bar messages
that then fail to render, which only the launch renders for everyone).

The segment builder asks on every edit, over audiences of up to the whole snapshot, so `snapshot_reach` plans
the same way from what it keeps per snapshot and channel (each customer's contact columns and address key, and
which of them the suppression list holds, until the list changes) and reads only the frequency counts anew.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
from sqlalchemy import Connection

from engine.campaigns.policy import apply_contact_policy, contact_columns, plan_contacts, recent_message_counts
from engine.channels import Channel
from engine.consent.suppression import (
    address_hashes,
    list_version,
    skip_blocked,
    skip_suppressed,
    suppressed_keys,
)
from engine.settings import Settings


def contact_plan(
    conn: Connection,
    members: pl.DataFrame,
    channel: Channel,
    settings: Settings,
    now: datetime,
    *,
    topic: str | None = None,
    excluding_campaign: int | None = None,
) -> pl.DataFrame:
    """One row per member (`customer_id`, `address`, `status` queued/pending/skipped, `reason`, `not_before`), as
    a launch at `now` would log them; `excluding_campaign`'s own messages do not count toward the caps."""
    since = now - timedelta(days=settings.frequency_cap_days)
    recent = recent_message_counts(conn, since, channel, excluding_campaign=excluding_campaign)
    plan = apply_contact_policy(members, channel, recent, settings, now)
    return skip_suppressed(conn, plan, channel.name, topic)


@dataclass(frozen=True)
class Reach:
    """How an audience fares: `receiving` now or later, `held` of them until quiet hours end, and the others
    `skipped`, by reason, most first."""

    audience: int
    receiving: int
    held: int
    skipped: dict[str, int]


def reach_of(plan: pl.DataFrame) -> Reach:
    """Count a `contact_plan`."""
    statuses = dict(plan.group_by("status").len().iter_rows())
    reasons = (
        plan.filter(pl.col("status") == "skipped")
        .group_by("reason")
        .len()
        .sort(["len", "reason"], descending=[True, False])
    )
    return Reach(
        audience=plan.height,
        receiving=statuses.get("queued", 0) + statuses.get("pending", 0),
        held=statuses.get("pending", 0),
        skipped=dict(reasons.iter_rows()),
    )


def audience_reach(
    conn: Connection,
    members: pl.DataFrame,
    channel: Channel,
    settings: Settings,
    now: datetime,
    *,
    topic: str | None = None,
) -> Reach:
    """How many of `members` a campaign on `channel` launched at `now` would message, and why the others not."""
    return reach_of(contact_plan(conn, members, channel, settings, now, topic=topic))


def snapshot_reach(
    conn: Connection,
    features: pl.DataFrame,
    members: pl.Series,
    channel: Channel,
    settings: Settings,
    now: datetime,
) -> Reach:
    """`audience_reach` of the rows of `features` (a whole snapshot) that the boolean `members` marks, without
    a topic: the contact columns and the suppression list's verdicts are kept with the snapshot's frame."""
    sheet = _sheet(features, channel)
    contacts = sheet.contacts.with_columns(blocked=sheet.suppressed(conn, channel)).filter(members)
    since = now - timedelta(days=settings.frequency_cap_days)
    recent = recent_message_counts(conn, since, channel)
    plan = plan_contacts(contacts.drop("address_hash", "blocked"), channel, recent, settings, now)
    return reach_of(skip_blocked(plan.with_columns(contacts["blocked"])))


class _ContactSheet:
    """One snapshot's customers as the policy reads them on one channel (`contact_columns` and `address_hash`,
    row for row), and which of them the channel's suppression list holds, as of the list's version."""

    def __init__(self, features: pl.DataFrame, channel: Channel, previous: _ContactSheet | None) -> None:
        contacts = contact_columns(features, channel)
        self.contacts = contacts.with_columns(_address_keys(contacts, previous))
        self._verdicts: tuple[tuple[int, ...], pl.Series] | None = None

    def suppressed(self, conn: Connection, channel: Channel) -> pl.Series:
        """Per row, why the list holds the address (`suppressed: ...`), or None."""
        version = list_version(conn, channel.name)
        if self._verdicts is None or self._verdicts[0] != version:
            listed = suppressed_keys(conn, channel.name).with_columns(pl.col("address_hash").str.decode("hex"))
            verdicts = self.contacts.select("address_hash").join(
                listed, on="address_hash", how="left", maintain_order="left"
            )
            self._verdicts = (version, verdicts["suppressed"])
        return self._verdicts[1]


def _address_keys(contacts: pl.DataFrame, previous: _ContactSheet | None) -> pl.Series:
    """Each row's `address_hash` (as 32 bytes, half the memory of its hex). Hashing a million addresses takes half a
    second, and the API's snapshot follows ingestion by applying deltas every few seconds, so the keys of the sheet
    made before (`previous`) are kept where it holds the same customer with the same address at the same row: a
    delta changes a few rows and appends new customers (ids only grow; the snapshot is sorted by id)."""
    kept = previous.contacts if previous is not None else None
    if (
        kept is None
        or kept.height > contacts.height
        or not contacts["customer_id"].head(kept.height).equals(kept["customer_id"])
    ):
        return _hashed(contacts["address"])
    same = contacts["address"].head(kept.height).eq_missing(kept["address"])
    stale = pl.concat(
        [(~same).arg_true(), pl.int_range(kept.height, contacts.height, eager=True, dtype=pl.get_index_type())]
    )
    keys = pl.concat(
        [kept["address_hash"], pl.repeat(None, contacts.height - kept.height, dtype=pl.Binary, eager=True)]
    )
    return keys.scatter(stale, _hashed(contacts["address"].gather(stale))) if stale.len() else keys


def _hashed(addresses: pl.Series) -> pl.Series:
    return address_hashes(addresses).str.decode("hex")


_SHEETS: dict[int, tuple[weakref.ref[pl.DataFrame], dict[str, _ContactSheet]]] = {}
_LATEST: dict[str, _ContactSheet] = {}  # by channel, the sheet made last: the next one takes its keys
_SHEETS_LOCK = threading.Lock()


def _sheet(features: pl.DataFrame, channel: Channel) -> _ContactSheet:
    """The sheet of `features` on `channel`, made on first use and forgotten with the frame."""
    key = id(features)
    with _SHEETS_LOCK:
        held = _SHEETS.get(key)
        if held is None or held[0]() is not features:

            def forget(ref: weakref.ref[pl.DataFrame]) -> None:
                if _SHEETS.get(key, (None,))[0] is ref:
                    _SHEETS.pop(key, None)

            held = (weakref.ref(features, forget), {})
            _SHEETS[key] = held
        sheets = held[1]
        if channel.name not in sheets:
            sheets[channel.name] = _LATEST[channel.name] = _ContactSheet(features, channel, _LATEST.get(channel.name))
        return sheets[channel.name]
