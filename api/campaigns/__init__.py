"""Campaign routes: `/v1/campaigns/...`."""
