"""A saved segment's members: paged, exported as CSV and Parquet, and why a customer is in or out."""

from __future__ import annotations

import io

import polars as pl
from fastapi.testclient import TestClient

from engine.features.snapshot import Snapshot
from tests.api.segments.data import BIG_SPENDERS, LOYAL_IN_LONDON_OR_MUMBAI, RECENT_BUYERS
from tests.api.segments.test_crud import save


def test_members_come_a_page_at_a_time_in_id_order(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    segment = save(client, analyst, "Big spenders", BIG_SPENDERS)
    pages, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor is not None else {})
        page = client.get(f"/v1/segments/{segment['id']}/members", params=params, headers=analyst).json()
        pages.append([member["customer_id"] for member in page["members"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [[1, 4], [5]]
    assert page["members"][0]["email"] == "noor@shop.example"


def test_the_csv_export_has_every_member_with_their_features(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    segment = save(client, analyst, "Big spenders", BIG_SPENDERS)

    answer = client.get(f"/v1/segments/{segment['id']}/export", params={"format": "csv"}, headers=analyst)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == f'attachment; filename="segment-{segment["id"]}-snapshot-1.csv"'
    exported = pl.read_csv(io.BytesIO(answer.content))
    assert exported["customer_id"].to_list() == [1, 4, 5]
    assert exported.columns == published.features.columns
    assert exported["total_spend"].to_list() == [1200.0, 5000.0, 800.0]


def test_the_parquet_export_reads_back_as_the_members_rows(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    segment = save(client, analyst, "Loyal", LOYAL_IN_LONDON_OR_MUMBAI)

    answer = client.get(f"/v1/segments/{segment['id']}/export", params={"format": "parquet"}, headers=analyst)

    assert answer.status_code == 200
    exported = pl.read_parquet(io.BytesIO(answer.content))
    expected = published.features.filter(pl.col("customer_id").is_in([1, 4]))
    assert exported.equals(expected.with_columns(pl.col("city").cast(pl.String)).cast(exported.schema))
    assert exported["city"].to_list() == ["London", "Mumbai"]


def test_an_export_of_an_empty_segment_is_just_the_header(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    segment = save(client, analyst, "Nobody", {"field": "total_spend", "op": ">", "value": 10**9})

    answer = client.get(f"/v1/segments/{segment['id']}/export", headers=analyst)

    assert answer.text.splitlines() == [",".join(published.features.columns)]


def test_explain_shows_why_a_member_is_in(client: TestClient, analyst: dict[str, str], published: Snapshot) -> None:
    segment = save(client, analyst, "Loyal recent buyers", {"and": [LOYAL_IN_LONDON_OR_MUMBAI, RECENT_BUYERS]})

    answer = client.get(f"/v1/segments/{segment['id']}/explain/1", headers=analyst).json()

    assert answer["in_segment"] is True
    loyal, recent = answer["explanation"]["children"]
    spend, orders = loyal["children"][0]["children"]
    assert (spend["field"], spend["value"], spend["matched"]) == ("total_spend", 1200.0, True)
    assert (orders["field"], orders["value"], orders["matched"]) == ("order_count", 5, True)
    assert (loyal["children"][1]["value"], loyal["children"][1]["matched"]) == ("London", True)
    assert (recent["path"], recent["event_count"], recent["matched"]) == ("and[1]", 2, True)


def test_explain_shows_what_keeps_a_customer_out(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    segment = save(client, analyst, "Loyal recent buyers", {"and": [LOYAL_IN_LONDON_OR_MUMBAI, RECENT_BUYERS]})

    answer = client.get(f"/v1/segments/{segment['id']}/explain/5", headers=analyst).json()

    assert answer["in_segment"] is False
    loyal, recent = answer["explanation"]["children"]
    assert loyal["matched"] is False
    assert (loyal["children"][1]["field"], loyal["children"][1]["value"]) == ("city", "Delhi")
    assert loyal["children"][1]["sentence"] == 'customers whose city is one of "London", "Mumbai"'
    assert (recent["event_count"], recent["matched"]) == (1, True)


def test_explain_for_someone_not_in_the_snapshot_is_404(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    segment = save(client, analyst, "Big spenders", BIG_SPENDERS)

    answer = client.get(f"/v1/segments/{segment['id']}/explain/99", headers=analyst)

    assert (answer.status_code, answer.json()["detail"]) == (404, "customer 99 is not in snapshot 1")
