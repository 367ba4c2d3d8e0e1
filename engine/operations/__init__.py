"""What an operator reads about the running product: backlogs, lags, what waits."""
