"""Administration over the API: users and their roles, write keys, and the audit log. Admins only."""
