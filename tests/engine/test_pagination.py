"""Every paged list cuts its pages one way: the row fetched beyond the page says whether another page follows."""

from __future__ import annotations

from engine.pagination import cut_page, fetch_size


def test_a_page_with_rows_beyond_it_points_at_the_next() -> None:
    page = cut_page([1, 2, 3], 2, key=lambda row: row * 10)

    assert (page.items, page.next_cursor) == ([1, 2], 20)


def test_a_last_page_exactly_full_has_no_next_cursor() -> None:
    assert cut_page([1, 2], 2, key=lambda row: row).next_cursor is None
    assert cut_page([], 2, key=lambda row: row).items == []
    assert fetch_size(2) == 3
