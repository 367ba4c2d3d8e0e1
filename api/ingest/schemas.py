"""What the ingestion endpoints answer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ItemError(BaseModel):
    """Why one item of a batch was refused."""

    index: int = Field(description="Position of the item in the batch (0 for a single object).")
    field: str
    message: str


class Accepted(BaseModel):
    """The items put on the ingest stream; they reach Postgres when the ingest job applies them."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "accepted": 2,
                    "ids": ["cust-1001", "cust-1002"],
                    "rejected": [{"index": 2, "field": "email", "message": "value is not a valid email address"}],
                    "stream_id": "1764072000000-0",
                }
            ]
        }
    }

    accepted: int
    ids: list[str] = Field(description="External ids (or message ids) of the accepted items.")
    rejected: list[ItemError] = Field(default_factory=list)
    stream_id: str | None = Field(None, description="The ingest stream entry holding the accepted items.")


class SegmentAccepted(Accepted):
    """Segment's answer (`success`), with what was accepted and refused."""

    success: bool = True
