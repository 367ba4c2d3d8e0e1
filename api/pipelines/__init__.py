"""`/v1/pipelines`: how the pipelines are doing, for the dashboard's Pipelines page."""
