"""A customer's consent: per channel and per subscription topic, changed only through here, every change kept.

Channel consent lives where the channel registry says (a customers column such as `sms_consent`, or a trait such
as `whatsapp_consent`), so segments and the contact policy read it as before. Withdrawing it also puts the
address on the suppression list (reason `unsubscribed`, or `stop` for a STOP reply), which is what holds even when
an integrator later sends the customer with consent again: only the customer can lift it, from the preference
page (an unsubscribe) or by replying START (a STOP). Topics ("offers", "order-updates") are left one by one; a
campaign names its topic and skips those who left it. Every change is written to `consent_changes` with what
changed, when and from where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, text

from engine.channels import CHANNELS, get_channel
from engine.consent import suppression
from engine.consent.links import ConsentLink
from engine.consent.suppression import Reason
from engine.errors import Invalid, NotFound
from engine.features.catalog import TRAIT_PREFIX
from engine.schema import customers

# Suppression reasons a customer lifts by subscribing again; bounces, complaints and invalid addresses are not
# theirs to lift (an operator removes those from the list), and a STOP only by replying START.
LIFTED_BY_SUBSCRIBING: tuple[Reason, ...] = ("unsubscribed",)


class UnknownCustomer(NotFound, LookupError):
    """No customer has this id (any more: erased customers' links lead here)."""


class UnknownTopic(Invalid, LookupError):
    """No subscription topic has this key."""


@dataclass(frozen=True)
class ConsentChange:
    """One change of a customer's consent, as kept in the history."""

    id: int
    channel: str | None
    topic: str | None
    subscribed: bool
    source: str
    detail: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Topic:
    key: str
    name: str
    description: str


@dataclass(frozen=True)
class Preferences:
    """What a customer receives: per channel that asks consent, whether they may be messaged on it (consent
    given and address not suppressed), and why not where it is not theirs to change (a bounce, a complaint, a
    STOP); per topic, whether they are in it."""

    customer_id: int
    channels: dict[str, bool]
    blocked: dict[str, str] = field(default_factory=dict)  # channel → why it is off (a suppression's reason)
    topics: dict[str, bool] = field(default_factory=dict)
    topic_names: dict[str, str] = field(default_factory=dict)


def _consent_sql(channel: str) -> tuple[str, str]:
    """How to read and set the channel's consent on `customers` (an SQL expression, and an assignment taking
    `:value`); `ValueError` for a channel that asks none."""
    column = get_channel(channel).consent
    if column is None:
        raise ValueError(f"the {channel} channel asks no consent")
    if column.startswith(TRAIT_PREFIX):
        key = column.removeprefix(TRAIT_PREFIX)
        return (
            f"(traits ->> '{key}')::boolean",
            f"traits = jsonb_set(traits, '{{{key}}}', to_jsonb(CAST(:value AS boolean)))",
        )
    if column not in customers.c:
        raise ValueError(f"the {channel} channel's consent column {column!r} is not on customers")
    return column, f"{column} = :value"


def _address(conn: Connection, customer_id: int, channel: str) -> str | None:
    column = get_channel(channel).address
    if column not in customers.c:
        return None
    return conn.execute(text(f"SELECT {column} FROM customers WHERE id = :id"), {"id": customer_id}).scalar()


def record(
    conn: Connection,
    customer_id: int,
    subscribed: bool,
    source: str,
    *,
    channel: str | None = None,
    topic: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Keep one change in the customer's consent history."""
    conn.execute(
        text(
            "INSERT INTO consent_changes (customer_id, channel, topic, subscribed, source, detail) "
            "VALUES (:customer, :channel, :topic, :subscribed, :source, CAST(:detail AS jsonb))"
        ),
        {
            "customer": customer_id, "channel": channel, "topic": topic, "subscribed": subscribed, "source": source,
            "detail": orjson.dumps(detail or {}).decode(),
        },
    )  # fmt: skip


def set_channel_consent(
    conn: Connection,
    customer_id: int,
    channel: str,
    subscribed: bool,
    source: str,
    *,
    address: str | None = None,
    reason: Reason = "unsubscribed",
    detail: dict[str, Any] | None = None,
) -> bool:
    """Give or withdraw the customer's consent to `channel`; whether anything changed (recorded when it did).

    Withdrawing suppresses `address` (the one the message went to; else the customer's current one) for `reason`;
    giving it back lifts an `unsubscribed` suppression of the customer's current address, nothing else.
    """
    read, assign = _consent_sql(channel)
    changed = conn.execute(
        text(f"UPDATE customers SET {assign}, updated_at = now() WHERE id = :id AND {read} IS DISTINCT FROM :value"),
        {"id": customer_id, "value": subscribed},
    ).rowcount
    target = address or _address(conn, customer_id, channel)
    if subscribed:
        lifted = bool(target) and suppression.lift(conn, channel, target or "", LIFTED_BY_SUBSCRIBING)
    else:
        lifted = bool(target) and suppression.suppress(
            conn, channel, target or "", reason, source, customer_id=customer_id,
            campaign_id=(detail or {}).get("campaign_id"),
        )  # fmt: skip
    if changed or lifted:
        record(conn, customer_id, subscribed, source, channel=channel, detail=detail)
    return bool(changed or lifted)


def set_topic(
    conn: Connection, customer_id: int, topic: str, subscribed: bool, source: str, detail: dict[str, Any] | None = None
) -> bool:
    """Leave or rejoin a topic; whether anything changed (recorded when it did)."""
    if conn.execute(text("SELECT 1 FROM topics WHERE key = :key"), {"key": topic}).first() is None:
        raise UnknownTopic(f"there is no topic {topic!r}")
    if subscribed:
        sql = "DELETE FROM topic_optouts WHERE customer_id = :customer AND topic = :topic"
    else:
        sql = "INSERT INTO topic_optouts (customer_id, topic) VALUES (:customer, :topic) ON CONFLICT DO NOTHING"
    changed = conn.execute(text(sql), {"customer": customer_id, "topic": topic}).rowcount > 0
    if changed:
        record(conn, customer_id, subscribed, source, topic=topic, detail=detail)
    return changed


def preferences(conn: Connection, customer_id: int) -> Preferences:
    """The customer's channels (those asking consent) and topics; `UnknownCustomer` when there is none."""
    asking = [name for name, channel in CHANNELS.items() if channel.consent is not None]
    reads = ", ".join(f"{_consent_sql(name)[0]} AS {name}" for name in asking)
    row = conn.execute(text(f"SELECT {reads} FROM customers WHERE id = :id"), {"id": customer_id}).mappings().first()
    if row is None:
        raise UnknownCustomer(f"there is no customer {customer_id}")
    blocked, suppressed = {}, set()
    for name in asking:
        address = _address(conn, customer_id, name)
        found = suppression.find(conn, name, address) if address else None
        if found is not None:
            suppressed.add(name)
            if found.reason not in LIFTED_BY_SUBSCRIBING:
                blocked[name] = suppression.REASON_LABELS.get(found.reason, found.reason)  # type: ignore[call-overload]
    left = set(conn.execute(text("SELECT topic FROM topic_optouts WHERE customer_id = :id"), {"id": customer_id})
               .scalars())  # fmt: skip
    all_topics = list_topics(conn)
    return Preferences(
        customer_id,
        channels={name: bool(row[name]) and name not in suppressed for name in asking},
        blocked=blocked,
        topics={topic.key: topic.key not in left for topic in all_topics},
        topic_names={topic.key: topic.name for topic in all_topics},
    )


def history(conn: Connection, customer_id: int, limit: int = 200) -> list[ConsentChange]:
    """The customer's consent changes, newest first."""
    rows = conn.execute(
        text(
            "SELECT id, channel, topic, subscribed, source, detail, created_at FROM consent_changes "
            "WHERE customer_id = :id ORDER BY id DESC LIMIT :limit"
        ),
        {"id": customer_id, "limit": limit},
    ).all()
    return [ConsentChange(*row) for row in rows]


def list_topics(conn: Connection) -> list[Topic]:
    return [Topic(*row) for row in conn.execute(text("SELECT key, name, description FROM topics ORDER BY key"))]


def save_topic(conn: Connection, topic: Topic) -> Topic:
    """Create the topic, or rename / describe it again."""
    conn.execute(
        text(
            "INSERT INTO topics (key, name, description) VALUES (:key, :name, :description) "
            "ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description"
        ),
        {"key": topic.key, "name": topic.name, "description": topic.description},
    )
    return topic


@dataclass(frozen=True)
class LinkTarget:
    """What an unsubscribe or preference link is about: the customer, the channel and address of the message it
    came in, that message's campaign and topic (None where the link names no message)."""

    customer_id: int
    channel: str | None
    address: str | None
    campaign_id: int | None
    topic: str | None
    topic_name: str | None


def link_target(conn: Connection, link: ConsentLink) -> LinkTarget:
    """Where a link leads; `UnknownCustomer` when its customer is gone (erased)."""
    if conn.execute(text("SELECT 1 FROM customers WHERE id = :id"), {"id": link.customer_id}).first() is None:
        raise UnknownCustomer(f"there is no customer {link.customer_id}")
    row = conn.execute(
        text(
            "SELECT l.address, l.campaign_id, c.topic, t.name FROM communication_log l "
            "LEFT JOIN campaigns c ON c.id = l.campaign_id LEFT JOIN topics t ON t.key = c.topic "
            "WHERE l.id = :id AND l.customer_id = :customer"
        ),
        {"id": link.message_id, "customer": link.customer_id},
    ).first()
    if row is None:
        address = _address(conn, link.customer_id, link.channel) if link.channel else None
        return LinkTarget(link.customer_id, link.channel, address, None, None, None)
    return LinkTarget(link.customer_id, link.channel, *row)


def unsubscribe(conn: Connection, link: ConsentLink, source: str, detail: dict[str, Any]) -> LinkTarget:
    """Act on an unsubscribe link: leave the topic of the campaign it came from, or, when that campaign had none,
    withdraw consent to the channel (suppressing the address it went to). What it was about."""
    target = link_target(conn, link)
    detail = {**detail, "campaign_id": target.campaign_id, "message_id": link.message_id}
    if target.topic is not None:
        set_topic(conn, target.customer_id, target.topic, False, source, detail)
    elif target.channel is not None and get_channel(target.channel).consent is not None:
        set_channel_consent(conn, target.customer_id, target.channel, False, source, address=target.address,
                            detail=detail)  # fmt: skip
    elif target.channel is not None and target.address:
        suppression.suppress(conn, target.channel, target.address, "unsubscribed", source,
                             customer_id=target.customer_id, campaign_id=target.campaign_id)  # fmt: skip
    return target
