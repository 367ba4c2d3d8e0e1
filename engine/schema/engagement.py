"""Indexes serving engagement and privacy requests, on tables other domains own (migration 0013).

Attributing an order to the last message its customer was sent, and exporting or erasing everything held
about a customer, look the communication log up by customer; a campaign's opens and clicks are the tracking
events naming it. They are declared here, with the reason they exist, rather than beside tables whose own
modules do not need them.
"""

from __future__ import annotations

from sqlalchemy import Index

from engine.schema.campaigns import communication_log
from engine.schema.ingest import events

engagement_indexes = (
    # `customer_id` is never updated, so the log's sent/delivered updates stay HOT.
    Index("ix_communication_log_customer_id", communication_log.c.customer_id),
    Index(
        "ix_events_engagement_campaign",
        events.c.properties["campaign_id"].astext,
        postgresql_where=events.c.name.in_(("Email Opened", "Link Clicked")),
    ),
)
