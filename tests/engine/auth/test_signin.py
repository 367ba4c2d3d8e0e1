"""Who may sign in and with which role: the admin list, allowed domains, the allow list, added users."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from engine.auth import audit
from engine.auth.errors import SignInRefused
from engine.auth.management import add_user, change_disabled
from engine.auth.roles import Role
from engine.auth.signin import Identity, dev_sign_in, sign_in
from engine.auth.users import get_user_by_email, list_users
from engine.settings import Settings


@pytest.fixture
def settings(configure: Callable[..., Settings], database: Engine) -> Settings:
    return configure(
        XENO_SIGNIN_ALLOWED_DOMAINS="shop.example",
        XENO_SIGNIN_ALLOWED_EMAILS="contractor@freelance.example",
        XENO_ADMIN_EMAILS="Boss@Shop.example",
    )


def verified(email: str) -> Identity:
    return Identity(email=email, email_verified=True, name=None, subject=email)


def test_the_admin_list_signs_in_as_admin(database: Engine, settings: Settings) -> None:
    assert sign_in(database, settings, verified("boss@shop.example"), "oidc").user.role == Role.admin


def test_a_newcomer_from_an_allowed_domain_gets_the_default_role(
    database: Engine, configure: Callable[..., Settings], settings: Settings
) -> None:
    assert sign_in(database, settings, verified("ana@shop.example"), "oidc").user.role == Role.viewer

    analysts_by_default = configure(XENO_DEFAULT_ROLE="analyst")
    assert sign_in(database, analysts_by_default, verified("raj@shop.example"), "oidc").user.role == Role.analyst


def test_an_address_on_the_allow_list_may_sign_in_from_any_domain(database: Engine, settings: Settings) -> None:
    tokens = sign_in(database, settings, verified("contractor@freelance.example"), "oidc")

    assert tokens.user.email == "contractor@freelance.example"


def test_an_address_outside_the_allowed_domains_is_refused_and_the_refusal_recorded(
    database: Engine, settings: Settings
) -> None:
    with pytest.raises(SignInRefused, match=r"elsewhere\.example is not an allowed domain"):
        sign_in(database, settings, verified("eve@elsewhere.example"), "oidc", ip="198.51.100.4")

    assert list_users(database) == []
    [entry] = audit.list_entries(database, action=audit.USER_SIGN_IN_REFUSED)
    assert (entry.target, entry.ip) == ("eve@elsewhere.example", "198.51.100.4")


def test_an_address_the_provider_has_not_verified_is_refused(database: Engine, settings: Settings) -> None:
    unverified = Identity(email="ana@shop.example", email_verified=False, name=None, subject="x")

    with pytest.raises(SignInRefused, match="not verified"):
        sign_in(database, settings, unverified, "oidc")


def test_someone_an_admin_added_may_sign_in_and_keeps_the_role_given(database: Engine, settings: Settings) -> None:
    add_user(database, "guest@partner.example", Role.marketer, None, actor="boss@shop.example")

    assert sign_in(database, settings, verified("guest@partner.example"), "oidc").user.role == Role.marketer


def test_a_disabled_user_cannot_sign_in(database: Engine, settings: Settings) -> None:
    user = sign_in(database, settings, verified("ana@shop.example"), "oidc").user
    change_disabled(database, user.id, True, actor="boss@shop.example")

    with pytest.raises(SignInRefused, match="disabled"):
        sign_in(database, settings, verified("ana@shop.example"), "oidc")


def test_a_sign_in_is_recorded_with_the_time_and_method(database: Engine, settings: Settings) -> None:
    sign_in(database, settings, verified("Ana@Shop.Example"), "token-exchange", ip="203.0.113.9")

    user = get_user_by_email(database, "ana@shop.example")
    assert user is not None
    assert user.last_sign_in_at is not None
    [entry] = audit.list_entries(database, action=audit.USER_SIGNED_IN)
    assert (entry.actor, entry.detail["method"], entry.ip) == ("ana@shop.example", "token-exchange", "203.0.113.9")


def test_the_developer_sign_in_is_refused_unless_switched_on(
    database: Engine, configure: Callable[..., Settings], settings: Settings
) -> None:
    with pytest.raises(SignInRefused, match="XENO_DEV_SIGNIN"):
        dev_sign_in(database, settings, "dev@example.com", Role.admin)

    switched_on = configure(XENO_DEV_SIGNIN="true")
    assert dev_sign_in(database, switched_on, "dev@example.com", Role.analyst).user.role == Role.analyst
