"""What the pipeline routes answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from engine.campaigns.launch import LaunchTrouble
from engine.features.snapshot import SnapshotInfo
from engine.ingest.deadletters import DeadLetter
from engine.operations.runs import RunSummary
from engine.operations.status import StreamState


class SnapshotStatus(BaseModel):
    """The newest published feature snapshot, and how old it is."""

    version: int
    taken_at: datetime
    created_at: datetime
    age_seconds: float = Field(description="Seconds since it was published.")
    customers: int
    events: int

    @classmethod
    def of(cls, info: SnapshotInfo, now: datetime) -> SnapshotStatus:
        return cls(
            version=info.version,
            taken_at=info.taken_at,
            created_at=info.created_at,
            age_seconds=max((now - info.created_at).total_seconds(), 0.0),
            customers=info.row_count,
            events=info.event_count,
        )


class PipelinesStatus(BaseModel):
    """Streams, dead letters waiting for a replay, the newest feature snapshot (null before the first), Dagster's
    newest runs (a failed one with its reason; its key says which attempt it was, e.g. `drain-7-after-1a2b3c4d`), and
    the campaign launches being tried again or given up on."""

    checked_at: datetime
    streams: list[StreamState]
    dead_letters_waiting: int
    snapshot: SnapshotStatus | None
    runs: list[RunSummary] = Field(description="Dagster's newest runs, newest first.")
    runs_unavailable: str | None = Field(description="Why the runs could not be read (Dagster out of reach); null.")
    launches: list[LaunchTrouble] = Field(
        description="Campaigns whose launch is being tried again, or was given up on within the last day."
    )


class DeadLetterOut(BaseModel):
    """A record the ingest job could not apply, as it was received, with the error."""

    id: int
    stream_entry_id: str
    kind: str
    payload: str
    error: str
    failed_at: datetime
    replayed_at: datetime | None

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        return cls(**vars(letter))


class ReplayIn(BaseModel):
    """Which dead letters to put back on the ingest stream: these ids, or every one not replayed yet (null)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ids": [3, 4]}, {"ids": None}]})

    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(None, min_length=1, max_length=10_000)


class ReplayOut(BaseModel):
    replayed: list[int]
