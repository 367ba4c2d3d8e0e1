"""Customer features: one row per customer, computed from customers, orders and events.

`catalog` declares every feature a segment rule may use (name, type, description, example values) and
builds the catalog of a given snapshot, adding the typed `trait_<key>` columns discovered in it. The
computation and publication of snapshots live beside it.
"""
