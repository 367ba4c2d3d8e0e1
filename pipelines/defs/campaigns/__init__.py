"""Campaigns: the job that launches one campaign, and the sensor that runs it for each due campaign.

Sending and receipts run in the delivery worker, not here (the README's "Who runs what, and why" says why).
"""
