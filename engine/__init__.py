"""The core of Xeno CRM.

Settings, the database schema, stream plumbing, event models, the segment rule language and its
evaluators, features, campaigns and the AI helpers live here. Nothing in this package imports the
API, the pipelines or the dashboard, nor FastAPI, Dagster or Streamlit: those are thin shells over it.
"""
