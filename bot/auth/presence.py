"""Agent presence ("is anybody online who serves this language?"), shared by every server process.

Without Redis the database is the record: ``users.last_seen_at``, refreshed by the console's socket every
``agent_presence_seconds / 3`` and by REST calls, counts as online for ``agent_presence_seconds``.

With ``BORDERLESS_REDIS_URL`` each of those heartbeats also sets ``borderless:presence:<user id>`` with an expiry
of ``agent_presence_seconds`` (``SET ... EX``), and :meth:`AgentPresence.online` reads those keys for the
candidate agents (one ``MGET``). The database copy is then written by a process at most every half window per
user instead of at every heartbeat, which keeps it fresh enough to be the fallback: whenever Redis fails
(refused, timed out, restarting) heartbeats write the database again and the handoff decision reads
``last_seen_at``, retrying Redis after a few seconds. A Redis outage is logged (a warning when it starts, a
reminder every ``WARNING_SECONDS``, a line when Redis is back), never an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from bot.auth.service import touch
from bot.realtime.outage import OutageLog
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.db.session import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

KEY_PREFIX = "borderless:presence:"
#: After a failed call, Redis is left alone this long (a refused connect is instant, a blackholed one is not).
RETRY_SECONDS = 3.0
#: Socket timeouts of the presence client: a heartbeat or a handoff never waits longer on Redis.
TIMEOUT_SECONDS = 0.5
WARNING_SECONDS = 30.0


class AgentPresence:
    """Heartbeats in Redis with an expiry, the database as the fallback (see the module docstring)."""

    def __init__(self, window_seconds: int, redis_url: str | None = None) -> None:
        self.window = max(1, int(window_seconds))
        self._redis: Any = None
        if redis_url and redis_url.split("://", 1)[0] in ("redis", "rediss"):
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._redis = redis.Redis.from_url(
                redis_url,
                socket_connect_timeout=TIMEOUT_SECONDS,
                socket_timeout=TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
        self._lock = threading.Lock()
        self._db_written: dict[int, float] = {}  # user id -> monotonic time this process last wrote the database
        self._down_until = 0.0
        self._outage = OutageLog(log, every=WARNING_SECONDS)

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentPresence:
        return cls(settings.agent_presence_seconds, settings.redis_url)

    @property
    def shared(self) -> bool:
        """Whether heartbeats go to Redis at all (``BORDERLESS_REDIS_URL`` set)."""
        return self._redis is not None

    def beat(self, user_id: int) -> bool:
        """Record that ``user_id`` is present now; True when the caller must also write the database
        (no Redis, Redis failed, or this process has not written it for half a window)."""
        if self._call(lambda r: r.set(f"{KEY_PREFIX}{user_id}", "1", ex=self.window)) is None:
            return True
        with self._lock:
            last = self._db_written.get(user_id)
        return last is None or time.monotonic() - last >= self.window / 2

    def db_written(self, user_id: int) -> None:
        """The caller wrote ``users.last_seen_at`` of ``user_id`` now."""
        with self._lock:
            self._db_written[user_id] = time.monotonic()

    def online(self, user_ids: Sequence[int]) -> set[int] | None:
        """Which of ``user_ids`` have a live heartbeat; None without Redis or while it fails (read the database)."""
        ids = list(user_ids)
        if self._redis is None:
            return None
        if not ids:
            return set()
        values = self._call(lambda r: r.mget([f"{KEY_PREFIX}{i}" for i in ids]))
        if values is None:
            return None
        return {i for i, value in zip(ids, values, strict=True) if value is not None}

    def _call(self, call: Callable[[Any], T]) -> T | None:
        if self._redis is None or time.monotonic() < self._down_until:
            return None
        try:
            result = call(self._redis)
        except Exception as exc:  # redis.RedisError, OSError: presence falls back to the database
            self._down_until = time.monotonic() + RETRY_SECONDS
            self._outage.failed("agent presence: Redis unreachable (%s: %s); using users.last_seen_at meanwhile",
                                type(exc).__name__, exc)
            return None
        self._outage.recovered("agent presence: Redis is back; heartbeats go to Redis again")
        return result

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


def heartbeat(db: Database, presence: AgentPresence | None, user_id: int) -> None:
    """``user_id`` is present now: a Redis heartbeat, and the database when :meth:`AgentPresence.beat` asks."""
    if presence is None or presence.beat(user_id):
        with db.session() as session:
            touch(session, user_id)
        if presence is not None:
            presence.db_written(user_id)
