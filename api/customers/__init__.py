"""Customers in the API: search and profiles."""
