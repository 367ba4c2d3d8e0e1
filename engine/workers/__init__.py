"""Long-lived worker processes that compose several domains' loops into one process.

They live apart from the domains they run (campaigns, notifications, ...) so that those domains need not import
each other: `delivery` runs the sender, the receipts applier, housekeeping and notifications side by side.
"""
