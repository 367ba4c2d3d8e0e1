"""Engagement: opens and clicks of e-mails, and the orders campaigns brought in.

`html.instrument_email` adds the open pixel and turns links into click redirects; `tracking` makes the
`Email Opened` / `Link Clicked` events those requests become (they are ingested like any other event);
`analytics` counts a campaign's opens, clicks and attributed conversions.
"""
