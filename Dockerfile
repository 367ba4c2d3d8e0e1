# One image for every Xeno process (the manifest's: api, Dagster code server, webserver and daemon, vendor simulator,
# delivery and AI workers, dashboard); docker-compose.yml picks the command. Dependencies come from the lock file.
FROM python:3.11-slim
# MALLOC_ARENA_MAX as engine/services/manifest.py's COMMON_ENVIRONMENT gives the processes xeno up starts.
ENV PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH="/app/.venv/bin:$PATH" MALLOC_ARENA_MAX=2
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY . .
RUN uv sync --locked --no-dev
EXPOSE 8000 3000 8100 8501
CMD ["xeno", "--help"]
