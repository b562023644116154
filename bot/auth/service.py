"""Accounts: argon2 password hashing, login tokens, first-run bootstrap, the server's secret key."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.auth.models import ROLES, AuthToken, User
from bot.auth.passwords import DEFAULT_MIN_SCORE, password_problem
from bot.auth.throttle import LoginThrottle as LoginThrottle  # noqa: F401  (its former home)
from bot.db.types import utcnow
from bot.events import Audited, emit
from bot.nlu.base import SUPPORTED_LOCALES
from bot.settings import Settings

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
_DUMMY_HASH: str | None = None  # made on first use: hashing costs ~0.4 s
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


class AuthError(ValueError):
    """Bad input when creating or changing an account."""


@dataclass(frozen=True)
class Principal:
    """The logged-in user as request handlers see it (a plain value, safe across threads and sessions)."""

    id: int
    username: str
    name: str
    role: str
    languages: tuple[str, ...]

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.username, user.name, user.role, tuple(user.language_list))

    def speaks(self, lang: str | None) -> bool:
        return not self.languages or (lang or "") in self.languages

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "role": self.role,
            "languages": list(self.languages),
        }


def set_password_hasher(hasher: PasswordHasher) -> None:
    """Swap the argon2 parameters (tests use cheap ones; hashes made earlier still verify)."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = None


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (never raises)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """What we store for a bearer token: its SHA-256 (the token itself has 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_languages(value: str | list[str] | tuple[str, ...] | None) -> str:
    """Normalise ``"es, en"`` or ``["es","en"]`` to ``"es,en"``; unknown codes are refused."""
    if value is None:
        return ""
    items = value.split(",") if isinstance(value, str) else list(value)
    codes: list[str] = []
    for item in items:
        code = item.strip().lower()
        if not code:
            continue
        if code not in SUPPORTED_LOCALES:
            raise AuthError(f"unknown language {code!r}; known: {', '.join(SUPPORTED_LOCALES)}")
        if code not in codes:
            codes.append(code)
    return ",".join(codes)


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str = "agent",
    languages: str | list[str] | None = None,
    name: str | None = None,
    *,
    actor: str,
    actor_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    min_score: int | None = DEFAULT_MIN_SCORE,
) -> User:
    """Add an account; raises :class:`AuthError` on bad input, a weak password or a taken username.

    Every account is audited: ``user_created`` by ``actor`` (a username, ``cli`` or ``system``; ``actor_id`` when
    it is an account), with the role, the languages and ``detail``, once the caller's transaction commits.
    ``min_score``: the zxcvbn score the password needs (``None`` skips the check: only the demo seeding)."""
    if not USERNAME_PATTERN.match(username or ""):
        raise AuthError("username: 2-64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    check_password(password, username, name, min_score)
    user = User(
        username=username,
        name=(name or username).strip()[:120] or username,
        password_hash=hash_password(password),
        role=role,
        languages=parse_languages(languages),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise AuthError(f"username {username!r} is taken") from None
    log.info("created %s account %s", role, username)
    emit(session, Audited(at=utcnow(), username=actor, user_id=actor_id, action="user_created",
                          subject=f"user:{user.username}",
                          detail={"role": user.role, "languages": user.language_list, **(detail or {})}))
    return user


class SelfLockout(AuthError):
    """An admin tried to deactivate or demote their own account (nobody could undo it from the page)."""


def update_user(
    session: Session,
    user_id: int,
    actor_id: int,
    *,
    active: bool | None = None,
    role: str | None = None,
    languages: list[str] | None = None,
    name: str | None = None,
) -> User | None:
    """Change an account (admin); None when it does not exist. Deactivating ends its sessions at once.

    Raises :class:`AuthError` on bad input and :class:`SelfLockout` when admins would lock themselves out.
    """
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        return None
    if user.id == actor_id and (active is False or (role is not None and role != "admin")):
        raise SelfLockout("you cannot deactivate or demote your own account; ask another admin")
    if role is not None:
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}")
        user.role = role
    if languages is not None:
        user.languages = parse_languages(languages)
    if name is not None:
        if not name.strip():
            raise AuthError("name: must not be empty")
        user.name = name.strip()[:120]
    if active is not None:
        user.active = active
        if not active:
            session.execute(delete(AuthToken).where(AuthToken.user_id == user.id))
    session.flush()
    log.info("account %s changed: %s", user.username,
             {k: v for k, v in (("active", active), ("role", role), ("languages", languages), ("name", name))
              if v is not None})
    return user


def check_password(password: str, username: str = "", name: str | None = None,
                   min_score: int | None = DEFAULT_MIN_SCORE) -> None:
    """Raise :class:`AuthError` if ``password`` is too weak for this account (any new or changed password)."""
    if min_score is None:
        return
    problem = password_problem(password or "", (username, name or ""), min_score)
    if problem:
        raise AuthError(problem)


def set_password(session: Session, user: User, password: str, min_score: int | None = DEFAULT_MIN_SCORE) -> None:
    """Change a password (strength checked) and end the user's sessions."""
    check_password(password, user.username, user.name, min_score)
    user.password_hash = hash_password(password)
    session.execute(delete(AuthToken).where(AuthToken.user_id == user.id))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (constant work whether or not the user exists)."""
    global _DUMMY_HASH
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = _hasher.hash("not-a-real-password")
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def issue_token(session: Session, user: User, ttl_hours: int) -> str:
    """A new bearer token for ``user``; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(AuthToken(token_hash=token_digest(token), user_id=user.id, created_at=now,
                          expires_at=now + timedelta(hours=ttl_hours)))
    session.execute(delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.expires_at < now))
    user.last_seen_at = now
    return token


def user_for_token(session: Session, token: str | None, touch_after: float | None = 20.0) -> User | None:
    """The active user a bearer token belongs to, or None; refreshes the user's presence now and then
    (``touch_after=None``: never writes)."""
    if not token or len(token) > 200:
        return None
    now = utcnow()
    row = session.execute(
        select(User, AuthToken.expires_at)
        .join(AuthToken, AuthToken.user_id == User.id)
        .where(AuthToken.token_hash == token_digest(token))
    ).first()
    if row is None:
        return None
    user, expires_at = row
    if expires_at <= now or not user.active:
        return None
    if touch_after is not None and is_stale(user, touch_after):
        user.last_seen_at = now
    return user


def is_stale(user: User, seconds: float = 20.0) -> bool:
    """Whether the user's presence was last refreshed more than ``seconds`` ago."""
    return user.last_seen_at is None or (utcnow() - user.last_seen_at).total_seconds() > seconds


def revoke_token(session: Session, token: str) -> None:
    """Log a token out."""
    session.execute(delete(AuthToken).where(AuthToken.token_hash == token_digest(token)))


def revoke_user_tokens(session: Session, user_id: int) -> int:
    """End every session of a user (deactivation, password reset); returns how many tokens were revoked."""
    return session.execute(delete(AuthToken).where(AuthToken.user_id == user_id)).rowcount or 0


class UnknownUser(LookupError):
    """No account with that id."""


def reset_password(session: Session, user_id: int, password: str,
                   min_score: int | None = DEFAULT_MIN_SCORE) -> User:
    """An admin replaces a user's password (:func:`set_password`: strength checked, sessions end)."""
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise UnknownUser(user_id)
    set_password(session, user, password, min_score)
    log.info("password of %s replaced; its sessions ended", user.username)
    return user


def touch(session: Session, user_id: int) -> None:
    """Mark a user as present now (the agent console's socket calls this periodically)."""
    session.execute(update(User).where(User.id == user_id).values(last_seen_at=utcnow()))


DEMO_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    # username, display name, role, languages
    ("ana", "Ana", "agent", "es,en,pt"),
    ("li", "Li", "agent", "zh,en,ja,ko"),
    ("sam", "Sam", "agent", ""),
    ("editor", "Eddie", "editor", ""),
)
DEMO_PASSWORD = "borderless-demo"


def bootstrap(session: Session, settings: Settings) -> list[str]:
    """First run: the admin from ``BORDERLESS_ADMIN_PASSWORD``; demo accounts when ``demo`` is set.

    Only acts while the users table is empty. Returns the usernames created.
    """
    if session.scalar(select(func.count()).select_from(User)):
        return []
    created: list[str] = []
    min_score = settings.password_min_score
    if settings.admin_password:
        try:
            create_user(session, settings.admin_username, settings.admin_password, role="admin", name="Admin",
                        actor="system", detail={"from": "BORDERLESS_ADMIN_PASSWORD"}, min_score=min_score)
        except AuthError as exc:
            raise AuthError(f"BORDERLESS_ADMIN_PASSWORD refused: {exc}") from None
        created.append(settings.admin_username)
    elif settings.demo:
        # The demo password is public and contains the product's name (zxcvbn scores it 2): the strength check
        # is skipped for the demo seeding only, which never runs on a server anyone else should reach.
        create_user(session, settings.admin_username, DEMO_PASSWORD, role="admin", name="Admin", actor="system",
                    detail={"from": "demo"}, min_score=None)
        created.append(settings.admin_username)
    if settings.demo:
        for username, name, role, languages in DEMO_ACCOUNTS:
            if username != settings.admin_username:
                create_user(session, username, DEMO_PASSWORD, role=role, languages=languages, name=name,
                            actor="system", detail={"from": "demo"}, min_score=None)
                created.append(username)
        log.warning("demo mode: created accounts %s with password %r; do not use in production",
                    ", ".join(created), DEMO_PASSWORD)
    elif created:
        log.info("created the first admin account %r", settings.admin_username)
    else:
        log.warning("no accounts yet: set BORDERLESS_ADMIN_PASSWORD or run `borderless create-user`")
    return created


def resolve_secret_key(settings: Settings) -> bytes:
    """``BORDERLESS_SECRET_KEY``, else a random key created once in ``data_dir/secret_key`` (mode 0600)."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = Path(settings.data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode("ascii"))
    log.info("generated a secret key in %s", path)
    return path.read_bytes().strip()
