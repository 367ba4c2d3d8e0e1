"""Customers as people look them up: search by name, e-mail, phone or external id, and one customer's profile."""
