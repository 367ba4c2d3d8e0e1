"""Privacy requests on the Customers page: an admin exports a customer's data and erases them (typing their external
id to confirm); other roles are told they need the admin role."""

from __future__ import annotations

from sqlalchemy import Engine, text

from engine.features.snapshot import Snapshot
from tests.dashboard.helpers import on_page, signed_in, table_with


def test_an_admin_erases_a_customer_after_typing_their_external_id(
    api_url: str, shop: Snapshot, database: Engine
) -> None:
    app = on_page(signed_in("admin"), "customers")
    app.text_input(key="customer_search").input("ada lov").run()
    assert app.button(key="customer_erase").disabled

    app.text_input(key="customer_erase_confirm").input("cus_2").run()
    assert app.button(key="customer_erase").disabled
    app.text_input(key="customer_erase_confirm").input("cus_1").run()
    app.button(key="customer_erase").click().run()

    assert app.success[0].value.startswith("Ada Lovelace (#1) was erased: ")
    assert "addresses kept only as hashes on the suppression list" in app.success[0].value
    with database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders WHERE customer_id = 1")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM customers WHERE id = 1")).scalar_one() == 0
    app.text_input(key="customer_search").input("ada lov").run()
    assert app.info[0].value == "Nobody matches."


def test_an_admin_can_download_everything_held_about_a_customer(api_url: str, shop: Snapshot) -> None:
    app = on_page(signed_in("admin"), "customers")
    app.text_input(key="customer_search").input("ada lov").run()

    app.button(key="customer_export").click().run()

    assert not app.error
    [download] = app.get("download_button")
    assert download.proto.label == "Download JSON"
    assert len(table_with(app, "Ordered at")) == 5


def test_an_analyst_is_told_privacy_requests_need_an_admin(api_url: str, shop: Snapshot) -> None:
    app = on_page(signed_in("analyst"), "customers")
    app.text_input(key="customer_search").input("ada lov").run()

    assert "needs the admin role" in " ".join(caption.value for caption in app.caption)
    assert "customer_erase" not in [button.key for button in app.button]
