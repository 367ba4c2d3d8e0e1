"""The Admin page: letting people in with a role, changing roles, write keys (secret shown once), the audit log."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.dashboard.helpers import on_page, signed_in, table_with


def users_by_email(app: AppTest) -> dict[str, dict]:
    return {user["email"]: user for user in app.session_state["api_client"].users()}


def test_an_admin_lets_someone_in_and_changes_their_role(api_url: str) -> None:
    app = on_page(signed_in("admin", "boss@shop.example"), "admin")

    app.text_input(key="admin_new_email").input("ana@shop.example")
    app.selectbox(key="admin_new_role").select("marketer")
    app.button(key="admin_new_add").click().run()
    assert app.success[0].value == "ana@shop.example may now sign in as marketer."
    ana = users_by_email(app)["ana@shop.example"]

    app.selectbox(key="admin_user_pick").select(ana["id"]).run()
    app.selectbox(key=f"admin_user_role_{ana['id']}").select("analyst")
    app.button(key="admin_user_apply").click().run()

    assert app.success[0].value == "ana@shop.example is now analyst."
    assert users_by_email(app)["ana@shop.example"]["role"] == "analyst"
    assert table_with(app, "role").set_index("email").loc["ana@shop.example", "role"] == "analyst"


def test_an_admin_cannot_demote_themselves_and_is_told_why(api_url: str) -> None:
    app = on_page(signed_in("admin", "boss@shop.example"), "admin")
    me = users_by_email(app)["boss@shop.example"]

    app.selectbox(key=f"admin_user_role_{me['id']}").select("viewer")
    app.button(key="admin_user_apply").click().run()

    assert app.error[0].value == "Not possible right now: you cannot demote or disable yourself; ask another admin"


def test_a_new_write_key_shows_its_secret_once_and_can_be_revoked(api_url: str) -> None:
    app = on_page(signed_in("admin"), "admin")

    app.text_input(key="admin_key_name").input("web shop")
    app.button(key="admin_key_create").click().run()
    secret = app.code[0].value
    assert secret.startswith("xk_")
    app.run()
    assert [block.value for block in app.code] == []

    [key] = app.session_state["api_client"].write_keys()
    app.selectbox(key="admin_key_pick").select(key["id"]).run()
    app.button(key="admin_key_revoke").click().run()
    app.button(key="admin_key_revoke_confirm").click().run()

    assert app.success[0].value == "Revoked “web shop”: ingestion with it is refused from now on."
    assert table_with(app, "prefix")["revoked_at"].notna().all()


def test_revoking_a_key_needs_a_pick_and_a_confirmation_and_stays_on_the_keys_tab(api_url: str) -> None:
    app = on_page(signed_in("admin"), "admin")
    app.session_state["admin_tab"] = "Write keys"
    for name in ("web shop", "warehouse"):
        app.text_input(key="admin_key_name").input(name)
        app.button(key="admin_key_create").click().run()

    assert app.selectbox(key="admin_key_pick").value is None
    assert app.button(key="admin_key_revoke").disabled
    warehouse = next(key for key in app.session_state["api_client"].write_keys() if key["name"] == "warehouse")
    app.selectbox(key="admin_key_pick").select(warehouse["id"]).run()
    app.button(key="admin_key_revoke").click().run()
    assert "cannot be switched back on" in app.markdown[-1].value
    app.button(key="admin_key_revoke_cancel").click().run()
    assert table_with(app, "prefix")["revoked_at"].isna().all()

    app.button(key="admin_key_revoke").click().run()
    app.button(key="admin_key_revoke_confirm").click().run()

    revoked = table_with(app, "prefix").set_index("name")["revoked_at"]
    assert revoked.notna().tolist() == [name == "warehouse" for name in revoked.index]
    assert app.selectbox(key="admin_key_pick").value is None
    assert app.session_state["admin_tab"] == "Write keys"


def test_the_audit_log_shows_the_newest_first_and_filters_by_action(api_url: str) -> None:
    app = on_page(signed_in("admin", "boss@shop.example"), "admin")
    app.text_input(key="admin_key_name").input("web shop")
    app.button(key="admin_key_create").click().run()

    assert table_with(app, "action")["action"].tolist()[:2] == ["key.created", "user.signed_in"]

    app.text_input(key="admin_audit_action").input("user.signed_in").run()

    assert table_with(app, "action")["action"].tolist() == ["user.signed_in"]


def test_audit_details_read_as_words_not_json(api_url: str) -> None:
    app = on_page(signed_in("admin", "boss@shop.example"), "admin")
    app.text_input(key="admin_new_email").input("ana@shop.example")
    app.selectbox(key="admin_new_role").select("viewer")
    app.button(key="admin_new_add").click().run()
    ana = users_by_email(app)["ana@shop.example"]
    app.selectbox(key="admin_user_pick").select(ana["id"]).run()
    app.selectbox(key=f"admin_user_role_{ana['id']}").select("marketer")
    app.button(key="admin_user_apply").click().run()

    audit = table_with(app, "action").set_index("action")

    assert audit.loc["user.role_changed", "detail"] == "from: viewer · to: marketer"
