"""Sign-in routes (`/v1/auth/...`) and the dependencies every other router uses to require a role and to
rate-limit its callers."""
