"""Who of an audience a campaign will actually reach: the one place the launch and every preview ask.

`contact_plan` runs the contact policy (consent, address, frequency caps, quiet hours) and the suppression list
(suppressed addresses, customers who left the topic) over the audience's feature rows; the launch writes its log
from that plan, so what a preview counts with `reach_of` is what a launch at the same moment does (bar messages
that then fail to render, which only the launch renders for everyone).

The segment builder asks on every edit and the campaign preview on every open, over audiences of up to the whole
snapshot, so `snapshot_reach` plans the same way from what it keeps per snapshot and channel (each customer's
contact columns and address key, which of them the suppression list holds until the list changes, and which left
a topic until its opt-outs change) and reads only the frequency counts anew.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
from sqlalchemy import Connection

from engine.campaigns.policy import apply_contact_policy, contact_columns, plan_contacts, recent_message_counts
from engine.channels import Channel
from engine.consent.suppression import (
    address_hashes,
    left_topic,
    list_version,
    skip_blocked,
    skip_suppressed,
    suppressed_keys,
    topic_leavers,
    topic_version,
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


def reach_of(plan: pl.DataFrame, customers: pl.Expr | None = None) -> Reach:
    """Count a `contact_plan` (or a plan of kinds of customers, each row counting as many as `customers` says)."""
    counted = pl.len() if customers is None else customers.sum()
    statuses = dict(plan.group_by("status").agg(counted).iter_rows())
    reasons = (
        plan.filter(pl.col("status") == "skipped")
        .group_by("reason")
        .agg(counted.alias("count"))
        .sort(["count", "reason"], descending=[True, False])
    )
    return Reach(
        audience=sum(statuses.values()),
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
    *,
    topic: str | None = None,
) -> Reach:
    """`audience_reach` of the rows of `features` (a whole snapshot) that the boolean `members` marks: the contact
    columns, the suppression list's verdicts and who left `topic` are kept with the snapshot's frame."""
    sheet = _sheet(features, channel)
    left = pl.lit(None, pl.String)
    if topic is not None:
        left = pl.when(pl.lit(sheet.left(conn, topic))).then(pl.lit(left_topic(topic)))
    contacts = sheet.contacts.with_columns(blocked=pl.coalesce(pl.lit(sheet.suppressed(conn, channel)), left))
    since = now - timedelta(days=settings.frequency_cap_days)
    recent = recent_message_counts(conn, since, channel)
    kinds = _kinds(contacts.filter(members).join(recent, on="customer_id", how="left"))
    planned = kinds.select("customer_id", "address", "consent", "timezone")
    plan = plan_contacts(planned, channel, kinds.select(recent.columns), settings, now)
    counted = skip_blocked(plan.with_columns(kinds["blocked"])).with_columns(kinds["customers"])
    return reach_of(counted, pl.col("customers"))


def _kinds(contacts: pl.DataFrame) -> pl.DataFrame:
    """`contacts` (with their recent message counts) by what the policy and the list read of them, a row for each
    kind of customer (the first such, `customers` alike): planning a million rows one by one takes half a second,
    their few kinds a few milliseconds. Of the address, the policy reads only whether there is one."""
    has_address = pl.col("address").fill_null("") != ""
    alike = ["consent", "timezone", "recent", "recent_on_channel", "blocked", has_address.alias("has_address")]
    return contacts.group_by(alike).agg(pl.col("customer_id", "address").first(), pl.len().alias("customers"))


def member_rows(features: pl.DataFrame, members: pl.DataFrame) -> pl.Series:
    """Which rows of `features` are those of `members` (feature rows of some of its customers), for `snapshot_reach`."""
    return features["customer_id"].is_in(members["customer_id"].implode())


class _ContactSheet:
    """One snapshot's customers as the policy reads them on one channel (`contact_columns` and `address_hash`,
    row for row), which of them the channel's suppression list holds, as of the list's version, and which left a
    topic, as of its opt-outs' version."""

    def __init__(self, features: pl.DataFrame, channel: Channel, previous: _ContactSheet | None) -> None:
        contacts = contact_columns(features, channel)
        self.contacts = contacts.with_columns(_address_keys(contacts, previous))
        self._verdicts: dict[str | None, tuple[tuple[int, ...], pl.Series]] = {}  # by topic; None: the list's

    def suppressed(self, conn: Connection, channel: Channel) -> pl.Series:
        """Per row, why the list holds the address (`suppressed: ...`), or None."""

        def verdicts() -> pl.Series:
            listed = suppressed_keys(conn, channel.name).with_columns(pl.col("address_hash").str.decode("hex"))
            joined = self.contacts.select("address_hash").join(
                listed, on="address_hash", how="left", maintain_order="left"
            )
            return joined["suppressed"]

        return self._kept(None, list_version(conn, channel.name), verdicts)

    def left(self, conn: Connection, topic: str) -> pl.Series:
        """Per row, whether the customer left `topic`."""
        return self._kept(
            topic,
            topic_version(conn, topic),
            lambda: self.contacts["customer_id"].is_in(topic_leavers(conn, topic).implode()),
        )

    def _kept(self, key: str | None, version: tuple[int, ...], verdicts: Callable[[], pl.Series]) -> pl.Series:
        held = self._verdicts.get(key)
        if held is None or held[0] != version:
            held = self._verdicts[key] = (version, verdicts())
        return held[1]


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
