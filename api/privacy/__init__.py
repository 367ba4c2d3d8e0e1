"""Privacy requests: export or erase everything held about one customer."""
