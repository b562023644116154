"""Socket rate limits, counted per conversation and per client address (never per socket).

A second socket on the same conversation shares its budget; many sockets from one address share the
address's budget. Counting uses the `limits` library's moving windows, in this process (``memory://``) or in
Redis when ``BORDERLESS_REDIS_URL`` is set, so every worker draws on the same budget. Open sockets per address
are counted in this process (a socket lives in one process; with N workers the cap is N times the setting).

If the counter store fails (Redis down) the message is let through and the failure logged: a rate limit
must never lose what a shopper said.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from bot.settings import Settings

log = logging.getLogger(__name__)

STORE_WARNING_SECONDS = 10.0


@dataclass(frozen=True)
class Verdict:
    """``allowed``; otherwise ``retry_after`` whole seconds and which ``limit`` was hit."""

    allowed: bool
    retry_after: int = 0
    limit: str = ""


ALLOWED = Verdict(True)


def storage_uri(settings: Settings) -> tuple[str, dict[str, str]]:
    """The `limits` storage for these settings: Redis (shared by workers) or this process's memory."""
    url = settings.redis_url
    if url and url.split("://", 1)[0] in ("redis", "rediss"):
        return "async+" + url, {"implementation": "redispy"}
    return "async+memory://", {}


class SocketLimits:
    """The budgets of ``docs/protocol.md`` ("Limits"); one instance per app."""

    def __init__(self, settings: Settings) -> None:
        uri, options = storage_uri(settings)
        self.storage = storage_from_string(uri, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.conversation_messages = RateLimitItemPerMinute(max(1, settings.shopper_rate_per_minute))
        self.address_messages = RateLimitItemPerMinute(max(1, settings.address_rate_per_minute))
        self.address_conversations = RateLimitItemPerMinute(max(1, settings.address_conversations_per_minute))
        self.conversation_emails = RateLimitItemPerMinute(max(1, settings.email_rate_per_minute))
        self.max_sockets = max(1, settings.address_max_sockets)
        self._sockets: dict[str, int] = {}
        self._store_warned_at = -STORE_WARNING_SECONDS  # a Redis outage is logged, not a traceback per message

    async def _hit(self, item: RateLimitItem, name: str, key: str) -> Verdict:
        try:
            if await self.limiter.hit(item, "borderless", name, key):
                return ALLOWED
            stats = await self.limiter.get_window_stats(item, "borderless", name, key)
        except Exception as exc:
            now = time.monotonic()
            if now - self._store_warned_at >= STORE_WARNING_SECONDS:
                self._store_warned_at = now
                log.warning("rate limit store failed (%s: %s); letting the %s (and others) through",
                            type(exc).__name__, exc, name, exc_info=not isinstance(exc, (OSError, TimeoutError))
                            and "ConnectionError" not in type(exc).__name__)
            return ALLOWED
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())), name)

    async def message(self, conversation_id: str, address: str) -> Verdict:
        """One shopper message: the conversation's budget, then the address's."""
        verdict = await self._hit(self.conversation_messages, "conversation_messages", conversation_id)
        if verdict.allowed:
            verdict = await self._hit(self.address_messages, "address_messages", address)
        return verdict

    async def new_conversation(self, address: str) -> Verdict:
        return await self._hit(self.address_conversations, "address_conversations", address)

    async def email(self, conversation_id: str) -> Verdict:
        return await self._hit(self.conversation_emails, "conversation_emails", conversation_id)

    # ------------------------------------------------------------------ open sockets (this process)
    def open_socket(self, address: str) -> bool:
        """Count a new shopper socket; False (not counted) when the address already has ``max_sockets``."""
        count = self._sockets.get(address, 0)
        if count >= self.max_sockets:
            return False
        self._sockets[address] = count + 1
        return True

    def close_socket(self, address: str) -> None:
        count = self._sockets.get(address, 0) - 1
        if count > 0:
            self._sockets[address] = count
        else:
            self._sockets.pop(address, None)

    def open_sockets(self, address: str) -> int:
        return self._sockets.get(address, 0)
