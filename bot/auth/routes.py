"""``/api/auth/*`` and ``/api/users``: log in and out, who am I, accounts (admin)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select

from bot.auth import service
from bot.auth.deps import AdminUser, _bearer, current_user
from bot.auth.models import User
from bot.auth.schemas import ChangePasswordRequest, CreateUserRequest, LoginRequest, LoginResponse, UserOut
from bot.auth.service import Principal
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
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                detail={"code": "wrong_credentials", "message": "Wrong username or password."})
        token = service.issue_token(session, user, settings.session_ttl_hours)
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
        return [UserOut(id=u.id, username=u.username, name=u.name, role=u.role, languages=u.language_list)
                for u in users]


@router.post("/api/users", response_model=UserOut, status_code=201)
def create_user(body: CreateUserRequest, request: Request, _admin: AdminUser) -> UserOut:
    """Add an account (admin)."""
    try:
        with request.app.state.db.session() as session:
            user = service.create_user(session, body.username, body.password, body.role, body.languages, body.name,
                                       min_score=request.app.state.settings.password_min_score)
            return UserOut(id=user.id, username=user.username, name=user.name, role=user.role,
                           languages=user.language_list)
    except service.AuthError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail={"code": "invalid_user", "message": str(exc)}) from None
