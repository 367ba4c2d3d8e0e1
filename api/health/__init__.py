"""Liveness and readiness of the API and the servers it depends on."""
