"""A customer's data export: everything we hold about them, as one JSON document.

Read in one REPEATABLE READ transaction, so the parts agree with each other; the export is recorded in the
audit log (who exported whom), since it hands personal data out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Engine, select, text

from engine.auth import audit
from engine.privacy.errors import CustomerNotFound
from engine.privacy.held import DEAD_LETTERS_NAMING, SNAPSHOT_ROW, as_named, customer_tables, has_snapshot
from engine.schema import customers, ingest_dead_letters

CUSTOMER_EXPORTED = "customer.exported"


def customer_export(db: Engine, customer_id: int, actor: str, ip: str | None = None) -> dict[str, Any]:
    """Everything held about the customer: `customer`, one list per table holding rows about them (`orders`,
    `events`, `communication_log`, ...), `features` (their row in the newest snapshot, or None) and
    `dead_letters`. `CustomerNotFound` when there is no such customer."""
    with db.connect() as conn, conn.begin():
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        found = conn.execute(select(customers).where(customers.c.id == customer_id)).mappings().one_or_none()
        if found is None:
            raise CustomerNotFound(customer_id)
        held: dict[str, Any] = {"customer": dict(found)}
        for table in customer_tables():
            rows = conn.execute(select(table).where(table.c.customer_id == customer_id).order_by(*table.primary_key))
            held[table.name] = [dict(row) for row in rows.mappings()]
        snapshot = conn.execute(text(SNAPSHOT_ROW), {"customer": customer_id}) if has_snapshot(conn) else None
        features = snapshot.mappings().one_or_none() if snapshot is not None else None
        held["features"] = None if features is None else dict(features)
        named = text(DEAD_LETTERS_NAMING).bindparams(named=as_named(found["external_id"]))
        letters = conn.execute(select(ingest_dead_letters).where(named).order_by(ingest_dead_letters.c.id))
        held["dead_letters"] = [dict(row) for row in letters.mappings()]
    audit.record(db, actor, CUSTOMER_EXPORTED, f"customer:{customer_id}", ip=ip)
    return held


def as_json(held: dict[str, Any]) -> bytes:
    """The export as JSON: times in ISO 8601, money and other decimals as exact strings."""
    return orjson.dumps(held, default=_exact, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def _exact(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
