"""A campaign's performance insights, end to end: read the log and features, compute the facts, phrase them.

Runs on the AI queue (the `insights` job in `engine.ai.jobs`): a large campaign's log takes seconds to
read. The features are those of the snapshot the campaign was launched on while it is kept (the
customers as they were when it was sent), else of the newest snapshot; without any snapshot there are no
spend, recency or city facts, and the notes say so. They are read from the snapshot's Parquet file, not
taken from the API's in-memory snapshot as the send time's are: this runs in the AI worker, another
process, and wants the snapshot of the launch rather than the newest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine

from engine.ai.insights.explain import phrase_insights
from engine.ai.insights.facts import FEATURE_COLUMNS, Fact, campaign_facts, engagement_facts
from engine.ai.insights.history import campaign_log, creator_campaigns, snapshot_features
from engine.ai.insights.placeholders import Insight
from engine.ai.messages.compose import CURRENCIES, DEFAULT_COUNTRY
from engine.ai.provider import TextProvider
from engine.campaigns.progress import Campaign
from engine.engagement.analytics import campaign_engagement
from engine.settings import get_settings


@dataclass(frozen=True)
class CampaignInsights:
    campaign_id: int
    facts: tuple[Fact, ...]
    insights: tuple[Insight, ...]
    provider: str
    model: str | None
    snapshot_version: int | None
    notes: tuple[str, ...] = ()
    repaired: bool = False  # the model's first sentences failed the checks and these are its corrected ones

    def output(self) -> dict[str, Any]:
        """The insights as the job's result and the call log keep them."""
        return {
            "campaign_id": self.campaign_id,
            "facts": [fact.as_dict() for fact in self.facts],
            "insights": [{"text": insight.text, "fact_ids": list(insight.fact_ids)} for insight in self.insights],
            "snapshot_version": self.snapshot_version,
            "notes": list(self.notes),
            "repaired": self.repaired,
        }


def campaign_insights(
    db: Engine, campaign: Campaign, provider: TextProvider, fallback: TextProvider | None
) -> CampaignInsights:
    log = campaign_log(db, campaign.id)
    others = creator_campaigns(db, campaign.id, campaign.created_by)
    snapshot = snapshot_features(db, FEATURE_COLUMNS, campaign.snapshot_version)
    notes = []
    if snapshot is None:
        notes.append("No feature snapshot has been published, so there are no spend, recency or city groups.")
        features = None
    else:
        features = snapshot.features
        if campaign.snapshot_version is not None and str(snapshot.version) != campaign.snapshot_version:
            notes.append(
                f"Customer groups are from snapshot {snapshot.version}, the newest: the one the campaign was "
                f"launched on ({campaign.snapshot_version}) is no longer kept."
            )
    currency = _currency(log, features)
    facts = campaign_facts(log, features, others, channel=campaign.channel, currency=currency)
    facts += engagement_facts(campaign_engagement(db, get_settings(), [campaign.id])[campaign.id], currency)
    phrased = phrase_insights(facts, provider, fallback)
    return CampaignInsights(
        campaign.id,
        tuple(facts),
        phrased.insights,
        phrased.provider,
        phrased.model,
        None if snapshot is None else snapshot.version,
        (*notes, *phrased.notes),
        phrased.repaired,
    )


def _currency(log: pl.DataFrame, features: pl.DataFrame | None) -> str:
    """The currency symbol of the country most of the recipients live in."""
    country = DEFAULT_COUNTRY
    if features is not None and "country" in features.columns:
        recipients = features.join(log.select("customer_id"), on="customer_id", how="semi")
        counts = recipients["country"].cast(pl.String).drop_nulls().value_counts(sort=True)
        if counts.height:
            country = counts.row(0)[0]
    return CURRENCIES.get(country, CURRENCIES[DEFAULT_COUNTRY])[0]
