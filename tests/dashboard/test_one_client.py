"""The dashboard reaches the API through its one typed client: no page or helper outside dashboard/client.py names
an API address ("/v1/..."), so an address changes in one place and every call's answer has a type."""

from __future__ import annotations

import ast
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
CLIENT = DASHBOARD / "client.py"
# The Segments page and its rule builder are being reworked for speed by another change, and the Segments page's
# calls move to the client after it (issue 16 item 8); the builder names no address today, but the rework may move
# reads into it. Nothing else may join this list.
NOT_YET = {DASHBOARD / "app_pages" / "segments.py", DASHBOARD / "builder.py"}


def _api_addresses(path: Path) -> list[str]:
    """The string literals (f-string parts too) in `path` that start with an API address, with their line."""
    return [
        f"{path.relative_to(DASHBOARD.parent)}:{node.lineno}: {node.value}"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/v1/")
    ]


def test_no_page_outside_the_client_names_an_api_address() -> None:
    found = [
        address
        for path in sorted(DASHBOARD.rglob("*.py"))
        if path != CLIENT and path not in NOT_YET
        for address in _api_addresses(path)
    ]
    assert found == []


def test_the_client_is_where_the_addresses_are() -> None:
    assert _api_addresses(CLIENT)
