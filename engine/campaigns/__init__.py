"""Campaigns and delivery: templates, the contact policy, launch, senders, receipts and progress.

A campaign is saved (`lifecycle`), launched by a Dagster job that freezes its audience and writes the
communication log (`launch`), delivered by senders that drain the delivery stream into the vendor
(`sender`), and settled by the receipts the vendor posts back (`receipts`). `progress` reads the counts
from the log; `worker` runs senders, the receipts applier and housekeeping as one long-lived process.
"""
