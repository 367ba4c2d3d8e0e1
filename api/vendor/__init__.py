"""The simulated delivery vendor: its own small ASGI app that accepts SMS and e-mail sends and posts receipts.

It behaves like a real SMS/e-mail provider so the CRM's senders and receipt handling can be tested end to
end on one machine: idempotent single and batch sends, signed delivery receipts posted back later, and
knobs for the faults real vendors have. It imports nothing from the rest of `api`.
"""
