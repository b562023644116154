"""Which conversations an agent may act on: the languages they serve.

One predicate for the queue, claims, reading, notes, replies and the agent socket, so the REST and socket
paths cannot disagree. Admins serve every language; an agent serves their languages (an empty list means every
language); the agent-translation work widens an agent's scope to the languages a ``translator`` covers, which is
why every function takes one (unused for now).
"""

from __future__ import annotations

from typing import Any, Protocol

#: Roles that answer shoppers.
AGENT_ROLES = ("agent", "admin")


class Member(Protocol):
    """What the predicate needs of a user: :class:`~bot.auth.service.Principal` and the ``User`` row both fit."""

    id: int
    role: str


def _languages(user: Any) -> tuple[str, ...]:
    langs = getattr(user, "languages", ())
    if isinstance(langs, str):  # the User row keeps "es,en"
        return tuple(code for code in langs.split(",") if code)
    return tuple(langs or ())


def queue_languages(user: Member, translator: Any = None) -> tuple[str, ...] | None:
    """The languages whose queue ``user`` sees; None means every language (admins, agents without a list)."""
    if user.role == "admin":
        return None
    if user.role not in AGENT_ROLES:
        return ()
    return _languages(user) or None


def serves(user: Member, lang: str | None, translator: Any = None) -> bool:
    """Whether ``user`` may claim, read, note and reply in a conversation in ``lang``."""
    langs = queue_languages(user, translator)
    return langs is None or (lang or "") in langs


def may_access(user: Member, lang: str | None, holder_id: int | None, translator: Any = None) -> bool:
    """:func:`serves`, or ``user`` holds the conversation (its language may have changed since the claim)."""
    return (holder_id is not None and holder_id == user.id and user.role in AGENT_ROLES) or serves(
        user, lang, translator
    )
