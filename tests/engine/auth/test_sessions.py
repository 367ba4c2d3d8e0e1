"""Sessions: refresh tokens rotate, one reused after the reuse interval ends the session, sign-out and disabling end
it at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from engine.auth import audit
from engine.auth.errors import InvalidCredentials, RefreshTokenReused
from engine.auth.roles import Role
from engine.auth.sessions import Tokens, authenticate, end_session, refresh_session, start_session
from engine.auth.users import record_sign_in, set_disabled
from engine.schema import refresh_tokens
from engine.settings import get_settings

NOW = datetime.now(UTC)  # the clock the refreshes are told; what matters is the time between them
SECOND = timedelta(seconds=1)


def reuse_interval() -> timedelta:
    return timedelta(seconds=get_settings().refresh_reuse_interval_s)


def signed_in(db: Engine, email: str = "ana@shop.example") -> Tokens:
    with db.begin() as conn:
        user = record_sign_in(conn, email, "Ana", Role.analyst)
        return start_session(conn, get_settings(), user, "test")


def test_an_access_token_speaks_for_its_user(database: Engine) -> None:
    tokens = signed_in(database)

    assert authenticate(database, get_settings(), tokens.access_token).email == "ana@shop.example"


def test_refreshing_hands_out_a_new_pair_and_spends_the_old_refresh_token(database: Engine) -> None:
    first = signed_in(database)

    second = refresh_session(database, get_settings(), first.refresh_token)

    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    assert authenticate(database, get_settings(), second.access_token).id == first.user.id


def test_a_refresh_token_presented_again_after_the_reuse_interval_ends_the_whole_session(database: Engine) -> None:
    stolen = signed_in(database)
    owners_next = refresh_session(database, get_settings(), stolen.refresh_token, now=NOW)

    with pytest.raises(RefreshTokenReused):
        refresh_session(database, get_settings(), stolen.refresh_token, now=NOW + reuse_interval() + SECOND)

    with pytest.raises(InvalidCredentials, match="ended"):
        refresh_session(database, get_settings(), owners_next.refresh_token)
    with pytest.raises(InvalidCredentials, match="ended"):
        authenticate(database, get_settings(), owners_next.access_token)
    [entry] = audit.list_entries(database, action=audit.SESSION_REUSE_DETECTED)
    assert entry.target == "ana@shop.example"


def test_two_tabs_presenting_the_same_token_within_the_reuse_interval_both_get_a_fresh_pair(database: Engine) -> None:
    cookies = signed_in(database)

    first_tab = refresh_session(database, get_settings(), cookies.refresh_token, now=NOW)
    second_tab = refresh_session(database, get_settings(), cookies.refresh_token, now=NOW + reuse_interval() - SECOND)

    assert first_tab.refresh_token != second_tab.refresh_token
    assert first_tab.session_id == second_tab.session_id == cookies.session_id
    for tab in (first_tab, second_tab):
        assert authenticate(database, get_settings(), tab.access_token).email == "ana@shop.example"
        next_pair = refresh_session(database, get_settings(), tab.refresh_token, now=NOW + SECOND)
        assert next_pair.session_id == tab.session_id


def test_the_reuse_interval_counts_from_the_first_use_so_presenting_again_does_not_stretch_it(
    database: Engine,
) -> None:
    cookies = signed_in(database)
    refresh_session(database, get_settings(), cookies.refresh_token, now=NOW)
    refresh_session(database, get_settings(), cookies.refresh_token, now=NOW + reuse_interval() - SECOND)

    with pytest.raises(RefreshTokenReused):
        refresh_session(database, get_settings(), cookies.refresh_token, now=NOW + reuse_interval() + SECOND)


def test_signing_out_ends_the_session_for_both_tokens(database: Engine) -> None:
    tokens = signed_in(database)

    user = end_session(database, tokens.refresh_token)

    assert user is not None
    assert user.email == "ana@shop.example"
    with pytest.raises(InvalidCredentials):
        authenticate(database, get_settings(), tokens.access_token)
    with pytest.raises(InvalidCredentials):
        refresh_session(database, get_settings(), tokens.refresh_token)


def test_signing_out_leaves_the_users_other_sessions_alone(database: Engine) -> None:
    laptop, phone = signed_in(database), signed_in(database)

    end_session(database, laptop.refresh_token)

    assert authenticate(database, get_settings(), phone.access_token).email == "ana@shop.example"


def test_disabling_a_user_ends_their_sessions_at_once(database: Engine) -> None:
    tokens = signed_in(database)

    with database.begin() as conn:
        set_disabled(conn, tokens.user.id, True)

    with pytest.raises(InvalidCredentials):
        authenticate(database, get_settings(), tokens.access_token)
    with pytest.raises(InvalidCredentials):
        refresh_session(database, get_settings(), tokens.refresh_token)


def test_an_expired_refresh_token_is_refused(database: Engine) -> None:
    tokens = signed_in(database)
    with database.begin() as conn:
        conn.execute(update(refresh_tokens).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))

    with pytest.raises(InvalidCredentials, match="expired"):
        refresh_session(database, get_settings(), tokens.refresh_token)


def test_an_unknown_refresh_token_is_refused(database: Engine) -> None:
    with pytest.raises(InvalidCredentials, match="unknown"):
        refresh_session(database, get_settings(), "xr_made-up")
