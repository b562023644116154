"""``/api/auth/*`` and ``/api/users``: log in and out, who am I, accounts (admin)."""

from __future__ import annotations

import logging
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select

from bot.auth import service
from bot.auth.deps import AdminUser, _bearer, current_user
from bot.auth.models import User
from bot.auth.schemas import (
    ChangePasswordRequest,
    CreateUserRequest,
    LoginRequest,
    LoginResponse,
    PasswordRequest,
    UpdateUserRequest,
    UserOut,
)
from bot.auth.service import Principal
from bot.db.types import utcnow
from bot.events import Audited, emit
from bot.web.clients import client_address

log = logging.getLogger(__name__)
router = APIRouter(tags=["auth"])


@router.post("/api/auth/login", response_model=LoginResponse)
def login(body: LoginRequest, request: Request) -> LoginResponse:
    """Exchange username and password for a bearer token."""
    throttle: service.LoginThrottle = request.app.state.login_throttle
    address = client_address(request)
    if throttle.blocked(body.username, address):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail={"code": "rate_limited", "message": "Too many failed logins; wait a few minutes."},
            headers={"Retry-After": str(throttle.retry_after(body.username, address))},
        )
    settings = request.app.state.settings
    with request.app.state.db.session() as session:
        user = service.authenticate(session, body.username, body.password)
        if user is None:
            throttle.failed(body.username, address)
            log.info("failed login for %r from %s", body.username, address)
        else:
            token = service.issue_token(session, user, settings.session_ttl_hours)
        # The audit log keeps both outcomes (written after the commit by bot.audit's listener).
        emit(session, Audited(at=utcnow(), username=body.username[:64], user_id=user.id if user else None,
                              action="login" if user else "login_failed", subject=f"user:{body.username[:64]}",
                              detail={"address": address}))
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            detail={"code": "wrong_credentials", "message": "Wrong username or password."})
    throttle.succeeded(body.username, address)
    return LoginResponse(token=token, role=user.role, name=user.name, username=user.username,
                         languages=user.language_list)


@router.post("/api/auth/logout", status_code=204)
def logout(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _user: Annotated[Principal, Depends(current_user)],
) -> None:
    """Revoke the calling token."""
    assert credentials is not None  # current_user passed
    with request.app.state.db.session() as session:
        service.revoke_token(session, credentials.credentials)


@router.post("/api/auth/password", status_code=204)
def change_password(body: ChangePasswordRequest, request: Request,
                    user: Annotated[Principal, Depends(current_user)]) -> None:
    """Change your own password (strength checked like a new account's); every session of yours ends, this one
    included: log in again. A wrong current password counts as a failed login."""
    throttle: service.LoginThrottle = request.app.state.login_throttle
    address = client_address(request)
    if throttle.blocked(user.username, address):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            detail={"code": "rate_limited", "message": "Too many failed attempts; wait a few minutes."},
                            headers={"Retry-After": str(throttle.retry_after(user.username, address))})
    with request.app.state.db.session() as session:
        account = service.authenticate(session, user.username, body.current_password)
        if account is None:
            throttle.failed(user.username, address)
            # 403, not 401: the session is fine, the proof is not (clients log out on 401).
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail={"code": "wrong_password", "message": "The current password is wrong."})
        try:
            service.set_password(session, account, body.new_password, request.app.state.settings.password_min_score)
        except service.AuthError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                detail={"code": "weak_password", "message": str(exc)}) from None
        emit(session, Audited(at=utcnow(), username=user.username, user_id=user.id, action="password_changed",
                              subject=f"user:{user.username}", detail={"address": address}))
    log.info("%s changed their password from %s", user.username, address)


@router.get("/api/auth/me", response_model=UserOut)
def me(user: Annotated[Principal, Depends(current_user)]) -> UserOut:
    """The logged-in user."""
    return UserOut(id=user.id, username=user.username, name=user.name, role=user.role,
                   languages=list(user.languages))


@router.get("/api/users", response_model=list[UserOut])
def list_users(request: Request, _admin: AdminUser) -> list[UserOut]:
    """Every account (admin)."""
    with request.app.state.db.session() as session:
        users = session.scalars(select(User).order_by(User.id)).all()
        return [_user_out(u) for u in users]


@router.post("/api/users", response_model=UserOut, status_code=201)
def create_user(body: CreateUserRequest, request: Request, admin: AdminUser) -> UserOut:
    """Add an account (admin)."""
    try:
        with request.app.state.db.session() as session:
            user = service.create_user(session, body.username, body.password, body.role, body.languages, body.name,
                                       actor=admin.username, actor_id=admin.id,
                                       min_score=request.app.state.settings.password_min_score)
            return _user_out(user)
    except service.AuthError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail={"code": "invalid_user", "message": str(exc)}) from None


#: Database ids are 32-bit everywhere (SQLite and PostgreSQL); a larger one is a 422, not an overflow.
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.patch("/api/users/{user_id}", response_model=UserOut)
def update_user(user_id: UserId, body: UpdateUserRequest, request: Request, admin: AdminUser) -> UserOut:
    """Change an account (admin): deactivate or reactivate it, its role, languages or name.

    Deactivating ends the account's sessions at once (its tokens are deleted); admins cannot deactivate or demote
    themselves (409 ``cannot_change_self``).
    """
    try:
        with request.app.state.db.session() as session:
            changes = body.model_dump(exclude_none=True)
            user = service.update_user(session, user_id, admin.id, **changes)
            if user is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND,
                                    detail={"code": "not_found", "message": "No such user."})
            emit(session, Audited(at=utcnow(), username=admin.username, user_id=admin.id, action="user_updated",
                                  subject=f"user:{user.username}", detail=changes))
            out, principal = _user_out(user), Principal.of(user)
    except service.SelfLockout as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail={"code": "cannot_change_self", "message": str(exc)}) \
            from None
    except service.AuthError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail={"code": "bad_request", "message": str(exc)}) from None
    if not out.active or out.role not in ("agent", "admin"):
        # Nobody left holding a conversation they can no longer answer: back to the queue. The handoff domain is
        # reached through the app (no import); open sockets close on their next login check (ws_agent).
        runtime = request.app.state.chat
        anyio.from_thread.run(runtime.publish, runtime.handoff.release_held(principal))
    return out


@router.post("/api/users/{user_id}/password", status_code=204)
def reset_password(user_id: UserId, body: PasswordRequest, request: Request, admin: AdminUser) -> None:
    """Replace a user's password (admin); the user's sessions end and their sockets close."""
    try:
        with request.app.state.db.session() as session:
            user = service.reset_password(session, user_id, body.password,
                                          min_score=request.app.state.settings.password_min_score)
            emit(session, Audited(at=utcnow(), username=admin.username, user_id=admin.id, action="password_reset",
                                  subject=f"user:{user.username}", detail={}))
    except service.UnknownUser:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "not_found", "message": "No such user."}) \
            from None
    except service.AuthError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail={"code": "weak_password", "message": str(exc)}) from None


def _user_out(user: User) -> UserOut:
    return UserOut(id=user.id, username=user.username, name=user.name, role=user.role,
                   languages=user.language_list, active=user.active)
