"""The contact policy, one place for every campaign: who may be messaged on a channel, and when.

In order: a customer without consent for the channel is skipped (channels that ask for none skip this), and so
is one without an address on it; one who already had `frequency_cap` marketing messages in the last
`frequency_cap_days`, or the channel's own cap of messages on that channel (`channel_frequency_caps`), is
skipped; one whose local time is inside the quiet hours waits (pending, with a not-before time at the end of
the quiet hours), and is never dropped for it. Every skip carries its reason into the communication log. The
channel (`engine.channels`) says which feature columns hold the address and the consent.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from sqlalchemy import Connection, text

from engine.channels import Channel
from engine.settings import Settings

# Messages that count toward the frequency cap: all but the skipped and the failed.
COUNTED_STATUSES = ("pending", "queued", "sent", "delivered")


def frequency_capped(settings: Settings) -> str:
    return f"frequency cap: {settings.frequency_cap} messages in {settings.frequency_cap_days:g} days"


def channel_frequency_capped(channel: Channel, cap: int, settings: Settings) -> str:
    return f"frequency cap on {channel.label}: {cap} messages in {settings.frequency_cap_days:g} days"


def recent_message_counts(
    conn: Connection, since: datetime, channel: Channel, excluding_campaign: int | None = None
) -> pl.DataFrame:
    """Per customer, the marketing messages logged since `since` (other than `excluding_campaign`'s): `recent` on
    every channel, `recent_on_channel` on `channel`."""
    rows = conn.execute(
        text(
            "SELECT customer_id, count(*), count(*) FILTER (WHERE channel = :channel) FROM communication_log "
            "WHERE created_at >= :since AND status = ANY(:counted) AND campaign_id IS DISTINCT FROM :campaign "
            "GROUP BY customer_id"
        ),
        {"since": since, "counted": list(COUNTED_STATUSES), "campaign": excluding_campaign, "channel": channel.name},
    ).all()
    schema = {"customer_id": pl.Int64(), "recent": pl.Int64(), "recent_on_channel": pl.Int64()}
    return pl.DataFrame(rows, schema=schema, orient="row")


def quiet_until(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """When the quiet hours around `now` end in `zone` (in UTC), or None when `now` is outside them."""
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet, ends_on = start <= clock < end, local.date()
    else:  # spans midnight, e.g. 21:00-09:00
        quiet = clock >= start or clock < end
        ends_on = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(ends_on, end, tzinfo=zone).astimezone(UTC)


def _zone(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def _quiet_hours(timezones: pl.Series, settings: Settings, now: datetime) -> pl.DataFrame:
    """`not_before` per distinct time zone name (None where it is not quiet there now)."""
    start, end = settings.quiet_hours_start, settings.quiet_hours_end
    names = timezones.unique().to_list()
    fallback = ZoneInfo(settings.default_timezone)
    if start is None or end is None or start == end:
        waits: list[datetime | None] = [None] * len(names)
    else:
        waits = [quiet_until(now, _zone(name, fallback), start, end) for name in names]
    return pl.DataFrame(
        {"timezone": pl.Series(names, dtype=pl.String), "not_before": pl.Series(waits, dtype=pl.Datetime("us", "UTC"))}
    )


def apply_contact_policy(
    members: pl.DataFrame, channel: Channel, recent: pl.DataFrame, settings: Settings, now: datetime
) -> pl.DataFrame:
    """One row per member: `customer_id`, `address`, `status` (queued, pending or skipped), `reason`, `not_before`.

    `members` are feature rows (customer_id, the channel's consent and address columns, timezone); `recent` is
    `recent_message_counts` for the frequency caps.
    """
    return plan_contacts(contact_columns(members, channel), channel, recent, settings, now)


def contact_columns(members: pl.DataFrame, channel: Channel) -> pl.DataFrame:
    """What the policy reads of each member, in their order: `customer_id`, `address` (trimmed), `consent` and
    `timezone`. A consent column the snapshot does not have (a trait nobody sent yet) is no consent. It depends on
    the feature rows alone, so a caller asking again about the same rows may keep it (`engine.campaigns.reach`)."""
    address = pl.col(channel.address).cast(pl.String).str.strip_chars()
    if channel.consent is None:
        consent = pl.lit(True)
    elif channel.consent in members.columns:
        consent = pl.col(channel.consent).cast(pl.Boolean, strict=False).fill_null(False)
    else:
        consent = pl.lit(False)
    timezone = pl.col("timezone").cast(pl.String) if "timezone" in members.columns else pl.lit(None, pl.String)
    return members.select(
        pl.col("customer_id").cast(pl.Int64),
        address.alias("address"),
        consent.alias("consent"),
        timezone.alias("timezone"),
    )


def plan_contacts(
    contacts: pl.DataFrame, channel: Channel, recent: pl.DataFrame, settings: Settings, now: datetime
) -> pl.DataFrame:
    """`apply_contact_policy` over `contact_columns`, rows kept in their order."""
    frame = contacts.join(recent, on="customer_id", how="left", maintain_order="left")
    quiet = _quiet_hours(frame["timezone"], settings, now)
    frame = frame.join(quiet, on="timezone", how="left", nulls_equal=True, maintain_order="left")
    capped = (pl.col("recent").fill_null(0) >= settings.frequency_cap) if settings.frequency_cap else pl.lit(False)
    channel_cap = settings.channel_frequency_caps.get(channel.name)
    channel_capped = pl.col("recent_on_channel").fill_null(0) >= channel_cap if channel_cap else pl.lit(False)
    no_address = pl.col("address").is_null() | (pl.col("address") == "")
    reason = (
        pl.when(~pl.col("consent"))
        .then(pl.lit(channel.no_consent()))
        .when(no_address)
        .then(pl.lit(channel.no_address()))
        .when(capped)
        .then(pl.lit(frequency_capped(settings)))
        .when(channel_capped)
        .then(pl.lit(channel_frequency_capped(channel, channel_cap or 0, settings)))
        .otherwise(pl.lit(None, pl.String))
    )
    return frame.with_columns(reason=reason).select(
        "customer_id",
        pl.when(no_address).then(None).otherwise(pl.col("address")).alias("address"),
        pl.when(pl.col("reason").is_not_null())
        .then(pl.lit("skipped"))
        .when(pl.col("not_before").is_not_null())
        .then(pl.lit("pending"))
        .otherwise(pl.lit("queued"))
        .alias("status"),
        "reason",
        pl.when(pl.col("reason").is_null()).then(pl.col("not_before")).alias("not_before"),
    )
