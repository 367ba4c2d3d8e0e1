"""Ingestion: validated records go onto the ingest stream; a consumer applies them to Postgres in bulk.

`models` validates what integrators send (our batch API and Segment's tracking API) and turns it into
plain records; `stream` puts them on Redis; `apply` writes a batch in one transaction; `consumer` drains
the stream with a consumer group, acknowledging only after the commit; `deadletters` keeps what could not
be applied, for replay.
"""
