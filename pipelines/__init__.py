"""Dagster definitions: assets, jobs, sensors and schedules, thin shells over `engine` functions."""
