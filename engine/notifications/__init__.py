"""Notifications: telling the people who work in the CRM what needs them.

`watch` finds the events (campaigns finished or failed, too many delivery failures, new ingest dead letters,
a stale feature snapshot) and records each once; `store` is what users see and have read; `outbound` posts
campaign and delivery events to a configured webhook URL, signed and retried.
"""
