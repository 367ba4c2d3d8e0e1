"""Privacy requests about one customer: export everything we hold about them, or erase it.

`held` finds what we hold (every table with a `customer_id`, so a domain's new table is included without an
edit here); `export` and `erase` answer the two requests, each recorded in the audit log.
"""
