"""The Dagster code location: gathers every domain's definitions (`workspace.yaml` points here)."""

import dagster as dg

defs = dg.Definitions()
