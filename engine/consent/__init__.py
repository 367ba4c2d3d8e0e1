"""Consent: who may be messaged, on which channel and topic; the suppression list; signed unsubscribe links."""
