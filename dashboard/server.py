"""The dashboard's web server: Streamlit's app (`app.py`) plus the route that sets the session cookie.

Run with `streamlit run dashboard/server.py` (Streamlit finds `app` and serves it with uvicorn). Outside
development (`ENVIRONMENT` other than `development`), Streamlit's developer menu and Deploy button are hidden.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit import config as streamlit_config

from dashboard import session_cookie
from dashboard.config import DashboardConfig

streamlit_config.set_option("client.toolbarMode", DashboardConfig.from_env().toolbar_mode)
app = st.App(Path(__file__).with_name("app.py"), routes=session_cookie.ROUTES)
