"""`/v1/admin/...`: users and roles, write keys, and the audit log. Every route needs the admin role;
every change is written to the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from api.admin.schemas import AuditEntryOut, CreatedKey, KeyOut, NewKey, NewUser, UserChange
from api.auth.dependencies import client_ip
from api.auth.schemas import UserOut
from api.deps import Admin, Db, rate_limit
from api.errors import Conflict, NotFound, error_responses
from engine import keys as write_keys
from engine.auth import audit, management
from engine.auth.roles import Role
from engine.auth.users import get_user, list_users
from engine.postgres_safe import PostgresText

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=error_responses(401, 403, 429))

RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/users", response_model=list[UserOut], dependencies=[rate_limit("read")], summary="List users")
def get_users(_: Admin, db: Db) -> list[UserOut]:
    """Everyone who has signed in or been added, oldest first."""
    return [UserOut.of(user) for user in list_users(db)]


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=error_responses(409),
    dependencies=[rate_limit("write")],
    summary="Add a user",
)
def post_user(body: NewUser, admin: Admin, request: Request, db: Db) -> UserOut:
    """Lets someone sign in (even outside the allowed domains) with the given role. Audited."""
    user = management.add_user(db, body.email, body.role, body.name, admin.email, client_ip(request))
    return UserOut.of(user)


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses=error_responses(404, 409),
    dependencies=[rate_limit("write")],
    summary="Change a user's role, or disable or enable them",
)
def patch_user(user_id: RowId, body: UserChange, admin: Admin, request: Request, db: Db) -> UserOut:
    """Disabling ends the user's sessions at once. Admins cannot demote or disable themselves (so there is
    always an admin left to undo a mistake). Audited."""
    if user_id == admin.id and (body.disabled or (body.role is not None and body.role != Role.admin)):
        raise Conflict("you cannot demote or disable yourself; ask another admin")
    ip = client_ip(request)
    user = management.change_role(db, user_id, body.role, admin.email, ip) if body.role is not None else None
    if body.disabled is not None:
        user = management.change_disabled(db, user_id, body.disabled, admin.email, ip)
    if body.role is None and body.disabled is None:
        user = get_user(db, user_id)
    if user is None:
        raise NotFound(f"there is no user {user_id}")
    return UserOut.of(user)


@router.get("/keys", response_model=list[KeyOut], dependencies=[rate_limit("read")], summary="List write keys")
def get_keys(_: Admin, db: Db) -> list[KeyOut]:
    """Every write key, revoked ones included, never with its secret."""
    return [KeyOut.of(key) for key in write_keys.list_keys(db)]


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedKey,
    dependencies=[rate_limit("write")],
    summary="Create a write key",
)
def post_key(body: NewKey, admin: Admin, request: Request, db: Db) -> CreatedKey:
    """A key for an integrator to ingest with; its secret is in this answer only. Audited."""
    new = management.create_write_key(db, body.name, admin.email, client_ip(request))
    return CreatedKey(key=KeyOut.of(new.key), secret=new.secret)


@router.post(
    "/keys/{key_id}/revoke",
    response_model=KeyOut,
    responses=error_responses(404),
    dependencies=[rate_limit("write")],
    summary="Revoke a write key",
)
def revoke_key(key_id: RowId, admin: Admin, request: Request, db: Db) -> KeyOut:
    """Ingestion with the key is refused from now on (within seconds in every API process). Audited."""
    key = management.revoke_write_key(db, key_id, admin.email, client_ip(request))
    if key is None:
        raise NotFound(f"there is no write key {key_id}")
    return KeyOut.of(key)


@router.get(
    "/audit", response_model=list[AuditEntryOut], dependencies=[rate_limit("read")], summary="Read the audit log"
)
def get_audit(
    _: Admin,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Page back from this id.")] = None,
    action: Annotated[PostgresText | None, Query(max_length=100, examples=["user.signed_in"])] = None,
) -> list[AuditEntryOut]:
    """Newest first. Page back by passing the smallest `id` seen as `before_id`."""
    entries = audit.list_entries(db, limit=limit, before_id=before_id, action=action)
    return [AuditEntryOut.of(entry) for entry in entries]
