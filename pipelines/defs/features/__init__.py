"""Features: the `customer_features` asset, its checks, and what re-materializes it (after ingest, hourly)."""
