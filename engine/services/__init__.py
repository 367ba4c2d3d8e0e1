"""Running the product's processes: embedded Postgres and Redis, the supervisor behind `xeno up` and the state
file it keeps for `xeno status`, and the workers' health endpoint."""
