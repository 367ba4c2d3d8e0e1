"""Ingestion endpoints: our batch API and the Segment-compatible tracking API. Write keys only."""
