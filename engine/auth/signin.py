"""Who may sign in, with which role, and what a sign-in records.

Someone whose identity the OpenID provider vouches for (a verified e-mail) may sign in when the address
is on the admin list or the allow list, is in an allowed domain, or was added beforehand by an admin.
The admin list signs in as admin every time; a newcomer otherwise gets the default role; a known user
keeps the role an admin gave them. Everyone else is refused with a reason, and the refusal is recorded.

The developer sign-in skips the provider and the lists: whoever asks becomes who they say, with the role
they ask for. It exists for a laptop without Google and only works when switched on by setting.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from engine.auth import audit
from engine.auth.errors import SignInRefused
from engine.auth.roles import Role
from engine.auth.sessions import Tokens, start_session
from engine.auth.users import User, get_user_by_email, normalize_email, record_sign_in
from engine.settings import Settings


def is_loopback(host: str | None) -> bool:
    """Whether `host` (a name or an address) is this machine only: where the developer sign-in may work."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Identity:
    """Who the OpenID provider says signed in."""

    email: str
    email_verified: bool
    name: str | None
    subject: str


def role_on_sign_in(conn: Connection, settings: Settings, identity: Identity) -> Role:
    """The role `identity` signs in with; `SignInRefused` when they may not sign in at all."""
    email = normalize_email(identity.email)
    if not identity.email_verified:
        raise SignInRefused(f"the provider has not verified the e-mail address {email}")
    known = get_user_by_email(conn, email)
    if known is not None and known.disabled:
        raise SignInRefused(f"the account {email} is disabled; ask an administrator")
    if email in settings.admin_emails:
        return Role.admin
    if known is not None:
        return known.role
    domain = email.rpartition("@")[2]
    if email in settings.signin_allowed_emails or domain in settings.signin_allowed_domains:
        return Role(settings.default_role)
    raise SignInRefused(
        f"{email} may not sign in: {domain} is not an allowed domain and the address is not on the "
        "allow list; ask an administrator to add you"
    )


def sign_in(db: Engine, settings: Settings, identity: Identity, method: str, ip: str | None = None) -> Tokens:
    """Admit a provider-verified identity and start a session, or refuse it (recording either)."""
    try:
        with db.begin() as conn:
            role = role_on_sign_in(conn, settings, identity)
            return _start(conn, settings, identity.email, identity.name, role, method, ip)
    except SignInRefused as refusal:
        audit.record(
            db, normalize_email(identity.email), audit.USER_SIGN_IN_REFUSED, normalize_email(identity.email),
            {"method": method, "reason": str(refusal)}, ip,
        )  # fmt: skip
        raise


def dev_sign_in(
    db: Engine, settings: Settings, email: str, role: Role, name: str | None = None, ip: str | None = None
) -> Tokens:
    """The developer sign-in: no provider, no lists, the role asked for. Refused unless switched on."""
    if not settings.dev_signin:
        raise SignInRefused("the developer sign-in is switched off (XENO_DEV_SIGNIN)")
    with db.begin() as conn:
        known = get_user_by_email(conn, email)
        if known is not None and known.disabled:
            raise SignInRefused(f"the account {known.email} is disabled")
        return _start(conn, settings, email, name, role, "dev", ip)


def _start(
    conn: Connection,
    settings: Settings,
    email: str,
    name: str | None,
    role: Role,
    method: str,
    ip: str | None,
) -> Tokens:
    user: User = record_sign_in(conn, email, name, role)
    tokens = start_session(conn, settings, user, method)
    audit.record(conn, user.email, audit.USER_SIGNED_IN, user.email, {"method": method, "role": role}, ip)
    return tokens
