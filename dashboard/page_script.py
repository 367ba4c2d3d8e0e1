"""Running a line of JavaScript in the user's page, the one way the dashboard's server acts in the browser.

The script runs in the dashboard's own document (Streamlit's `st.html` with JavaScript allowed), so it may call
the dashboard's routes and set the dashboard's cookies: `dashboard.session_cookie` hands the browser its session
cookie that way, `dashboard.linked_page` the page a link asked for.
"""

from __future__ import annotations

import streamlit as st


def run(script: str) -> None:
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)
