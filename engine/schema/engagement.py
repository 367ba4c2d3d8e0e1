"""The index serving engagement, on a table another domain owns (migration 0013).

A campaign's opens and clicks are the tracking events naming it (`engine.engagement`); a partial index on the
campaign they name keeps counting them to those events. It is declared here, with the reason it exists, rather
than beside the events table, whose own module does not need it. The communication log has no index by customer
on purpose: attribution reads it by campaign, and one more index would slow every launch's COPY.
"""

from __future__ import annotations

from sqlalchemy import Index

from engine.schema.ingest import events

engagement_indexes = (
    Index(
        "ix_events_engagement_campaign",
        events.c.properties["campaign_id"].astext,
        postgresql_where=events.c.name.in_(("Email Opened", "Link Clicked")),
    ),
)
