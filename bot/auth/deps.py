"""FastAPI dependencies: who is calling, and may they.

Usage::

    from bot.auth.deps import require_role
    @router.get("/api/things")
    def things(user: Principal = Depends(require_role("editor", "admin"))): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.auth.presence import AgentPresence
from bot.auth.service import Principal, is_stale, touch, user_for_token
from bot.db.session import Database

_bearer = HTTPBearer(auto_error=False, description="The token from POST /api/auth/login.")


def principal_for_token(db: Database, token: str | None, presence: AgentPresence | None = None) -> Principal | None:
    """The principal a bearer token belongs to (REST and the agent websocket); None if unknown or expired.

    Presence: "online" for ``agent_presence_seconds`` after the last request: a Redis heartbeat at each call when
    ``presence`` is shared, and the database row once it is 20 s old (less often while Redis answers; see
    bot/auth/presence.py).
    """
    if not token:
        return None
    with db.read() as session:
        user = user_for_token(session, token, touch_after=None)
        if user is None:
            return None
        principal, stale = Principal.of(user), is_stale(user)
    # With shared presence every call beats in Redis; the row is written only when it is stale too (a Redis
    # failure does not turn every request and 2-second socket check into a database write).
    needs_row = presence.beat(principal.id) if presence is not None and presence.shared else True
    if needs_row and stale:
        with db.session() as session:
            touch(session, principal.id)
        if presence is not None:
            presence.db_written(principal.id)
    return principal


def lookup_principal(request: Request, token: str | None) -> Principal | None:
    """:func:`principal_for_token` with the app's database and presence."""
    return principal_for_token(request.app.state.db, token, getattr(request.app.state, "presence", None))


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The logged-in user; 401 for anonymous callers and unknown or expired tokens."""
    token = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
    principal = lookup_principal(request, token)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail={"code": "unauthorized", "message": "Not logged in."},
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require_role(*roles: str) -> Callable[..., Principal]:
    """A dependency that lets only users holding one of ``roles`` through (403 otherwise)."""
    allowed = frozenset(roles)

    def dependency(user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail={
                "code": "forbidden", "message": f"This needs the role {' or '.join(sorted(allowed))}."})
        return user

    dependency.__name__ = f"require_role_{'_'.join(sorted(allowed))}"
    return dependency


AgentUser = Annotated[Principal, Depends(require_role("agent", "admin"))]
AdminUser = Annotated[Principal, Depends(require_role("admin"))]
