"""A segment's CSV export cannot make a spreadsheet run a formula: text cells that would start one are prefixed
with `'` (OWASP's advice); numbers, negative ones included, stay numbers."""

from __future__ import annotations

import csv
import io

import polars as pl
from fastapi.testclient import TestClient

from tests.api.segments import data
from tests.api.segments.conftest import Publisher
from tests.api.segments.test_crud import save

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1", "-2+3", "\tx", "\rx"]


def test_text_cells_that_would_run_as_formulas_are_exported_as_text(
    client: TestClient, analyst: dict[str, str], publisher: Publisher
) -> None:
    features = data.features().with_columns(
        first_name=pl.Series([*HOSTILE]),
        last_name=pl.Series(["O'Hara", "plain", None, "=1", "a=b", "-"]),
        total_spend=pl.Series([-5.5, -1.0, 0.0, 2.0, 3.0, 4.0]),
    )
    publisher.publish(features)
    segment = save(client, analyst, "Everyone", {"field": "customer_id", "op": ">=", "value": 0})

    answer = client.get(f"/v1/segments/{segment['id']}/export", params={"format": "csv"}, headers=analyst)

    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [row["first_name"] for row in rows] == [f"'{value}" for value in HOSTILE]
    assert [row["last_name"] for row in rows] == ["O'Hara", "plain", "", "'=1", "a=b", "'-"]
    assert [row["total_spend"] for row in rows] == ["-5.5", "-1.0", "0.0", "2.0", "3.0", "4.0"]
    assert [row["city"] for row in rows] == [person[3] for person in data.PEOPLE]
