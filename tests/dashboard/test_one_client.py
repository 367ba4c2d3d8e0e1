"""The dashboard reaches the API through its one typed client: no page or helper outside dashboard/client.py names
an API address ("/v1/..."), so an address changes in one place and every call's answer has a type."""

from __future__ import annotations

import ast
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
CLIENT = DASHBOARD / "client.py"


def _api_addresses(path: Path) -> list[str]:
    """The string literals (f-string parts too) in `path` that start with an API address, with their line."""
    return [
        f"{path.relative_to(DASHBOARD.parent)}:{node.lineno}: {node.value}"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/v1/")
    ]


def test_no_page_outside_the_client_names_an_api_address() -> None:
    found = [address for path in sorted(DASHBOARD.rglob("*.py")) if path != CLIENT for address in _api_addresses(path)]
    assert found == []


def test_the_client_is_where_the_addresses_are() -> None:
    assert _api_addresses(CLIENT)
