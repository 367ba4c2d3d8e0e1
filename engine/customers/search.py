"""Customer search: what a search box needs, answered from indexes.

A query matches customers whose e-mail, phone, external id, first name or last name starts with it,
ignoring case; "ada lov" also matches first name "Ada" with last name "Lovelace". Prefix matching is what
people type into a search box, and every test here is served by an index (`engine.schema.segments`), so
a search stays quick at millions of customers. Results come in id order, a page at a time; the cursor is
the last id of the previous page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, or_, select

from engine.pagination import cut_page, fetch_size
from engine.schema import customers
from engine.schema.segments import SEARCHABLE_TEXT


@dataclass(frozen=True)
class CustomerSummary:
    id: int
    external_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    city: str | None
    created_at: datetime


@dataclass(frozen=True)
class CustomerPage:
    customers: list[CustomerSummary]
    next_cursor: int | None  # None on the last page


def search_customers(db: Engine, query: str | None, *, after: int | None = None, limit: int = 50) -> CustomerPage:
    """Customers matching `query` (everyone when it is blank) with ids above `after`, up to `limit`."""
    with db.connect() as conn:
        rows = conn.execute(search_statement(query, after=after, limit=fetch_size(limit))).all()
    page = cut_page([CustomerSummary(**row._mapping) for row in rows], limit, key=lambda found: found.id)
    return CustomerPage(page.items, page.next_cursor)


def search_statement(query: str | None, *, after: int | None, limit: int) -> Select[Any]:
    """The SELECT behind `search_customers`: up to `limit` matching customers above `after`, by id."""
    statement = select(*(customers.c[name] for name in CustomerSummary.__dataclass_fields__))
    text = (query or "").strip().lower()
    if text:
        statement = statement.where(_matches(text))
    if after is not None:
        statement = statement.where(customers.c.id > after)
    return statement.order_by(customers.c.id).limit(limit)


def _matches(text: str) -> Any:
    prefix = _like_prefix(text)
    tests: list[Any] = [SEARCHABLE_TEXT[name].like(prefix, escape="\\") for name in SEARCHABLE_TEXT]
    if text[0].isdigit():  # phones are stored in E.164 form: "4477..." finds "+4477..."
        tests.append(SEARCHABLE_TEXT["phone"].like("+" + prefix, escape="\\"))
    first, _, last = text.partition(" ")
    if last.strip():
        tests.append(
            and_(
                SEARCHABLE_TEXT["first_name"].like(_like_prefix(first), escape="\\"),
                SEARCHABLE_TEXT["last_name"].like(_like_prefix(last.strip()), escape="\\"),
            )
        )
    return or_(*tests)


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching values that start with `text`, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
