"""What the running product tells its operators: Prometheus metrics (and, next, traces and structured logs)."""
