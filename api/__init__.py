"""The FastAPI service: ingestion, auth, segments, campaigns, receipts and AI, over `engine`."""
