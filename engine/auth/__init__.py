"""Who may use the product and how they prove it: users and roles, our own access and refresh tokens,
OpenID Connect sign-in, the audit log of sensitive actions, and the Redis-backed rate limiter.

Framework-free: the API wraps these functions in dependencies and routes; the CLI calls them directly.
"""
