"""The database schema in SQLAlchemy Core: the one source the migrations and all queries use.

One module per domain, all on one `metadata`; each adds its tables in a migration of its own.
"""

from engine.schema.ai import ai_calls, ai_images
from engine.schema.auth import audit_log, auth_sessions, refresh_tokens, users
from engine.schema.base import metadata
from engine.schema.campaigns import campaigns, communication_log
from engine.schema.consent import consent_changes, suppressions, topic_optouts, topics
from engine.schema.engagement import engagement_indexes
from engine.schema.features import feature_deltas, feature_snapshots, feature_source_changes, feature_touched_customers
from engine.schema.ingest import api_keys, customers, events, ingest_dead_letters, orders
from engine.schema.notifications import notification_reads, notification_webhooks, notifications
from engine.schema.segments import segment_sizes, segments

__all__ = [
    "ai_calls",
    "ai_images",
    "api_keys",
    "audit_log",
    "auth_sessions",
    "campaigns",
    "communication_log",
    "consent_changes",
    "customers",
    "engagement_indexes",
    "events",
    "feature_deltas",
    "feature_snapshots",
    "feature_source_changes",
    "feature_touched_customers",
    "ingest_dead_letters",
    "metadata",
    "notification_reads",
    "notification_webhooks",
    "notifications",
    "orders",
    "refresh_tokens",
    "segment_sizes",
    "segments",
    "suppressions",
    "topic_optouts",
    "topics",
    "users",
]
