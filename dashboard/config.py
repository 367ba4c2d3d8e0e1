"""Where the dashboard finds the rest of the product, read from the environment each time a session starts.

- `XENO_API_URL`: the API (default http://127.0.0.1:8000).
- `XENO_DAGSTER_URL`: the Dagster UI, for links from the Pipelines page (default http://127.0.0.1:3000).
- `XENO_DEV_SIGNIN`: `true` shows the developer sign-in (the API must have it switched on too; `xeno up`
  sets it for both on a machine without an OpenID provider).
- `ENVIRONMENT`: `development` (the default) keeps Streamlit's developer menu (rerun, clear cache, Deploy) for a
  browser on the same machine; anything else hides it for everyone (`toolbar_mode`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class DashboardConfig:
    api_url: str
    dagster_url: str
    dev_signin: bool
    environment: str = "development"

    @property
    def toolbar_mode(self) -> str:
        """Streamlit's `client.toolbarMode`: its own `auto` in development, `viewer` (no developer menu) elsewhere."""
        return "auto" if self.environment == "development" else "viewer"

    @classmethod
    def from_env(cls) -> DashboardConfig:
        return cls(
            api_url=os.environ.get("XENO_API_URL", "http://127.0.0.1:8000").rstrip("/"),
            dagster_url=os.environ.get("XENO_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/"),
            dev_signin=os.environ.get("XENO_DEV_SIGNIN", "").strip().lower() in TRUE_WORDS,
            environment=os.environ.get("ENVIRONMENT", "development").strip().lower() or "development",
        )
