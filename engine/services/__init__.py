"""Running the product's processes: embedded Postgres and Redis, and the supervisor behind `xeno up`."""
