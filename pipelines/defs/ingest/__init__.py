"""Ingest: the job that drains the ingest stream into Postgres, and the sensor that launches it."""
