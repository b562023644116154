"""Socket rate limits, counted per conversation and per client address (never per socket).

A second socket on the same conversation shares its budget; many sockets from one address share the
address's budget. Counting uses the `limits` library's moving windows, in this process (``memory://``) or in
Redis when ``BORDERLESS_REDIS_URL`` is set, so every worker draws on the same budget. Open sockets per address
are counted in this process, and also in Redis when it is set (:class:`SharedSockets`: one cap for all the
processes behind the balancer; a process that dies without closing its sockets frees their slots within
``SOCKET_LEASE_SECONDS``).

If the counter store fails (Redis down) the message is let through and the failure logged (at most every
``STORE_WARNING_SECONDS``, and once more when the store is back): a rate limit must never lose what a shopper said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from bot.realtime.outage import OutageLog
from bot.settings import Settings

log = logging.getLogger(__name__)

STORE_WARNING_SECONDS = 10.0
#: A socket's slot in Redis lasts this long unless its process renews it (every third of it while it is open).
SOCKET_LEASE_SECONDS = 60.0
SOCKETS_KEY = "borderless:sockets:"
# Drop expired leases, refuse at the cap, else take a slot; one round trip, atomic across processes.
_OPEN_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


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
        self._store = OutageLog(log, every=STORE_WARNING_SECONDS)  # a Redis outage, not a traceback per message
        self.shared: SharedSockets | None = SharedSockets(settings.redis_url) if uri.startswith("async+redis") else None

    def _store_failed(self, exc: Exception, what: str) -> None:
        # A traceback only for what is not a plain connection failure (that would be a bug, not an outage).
        self._store.failed("rate limit store failed (%s: %s); letting the %s (and others) through",
                           type(exc).__name__, exc, what, exc_info=not isinstance(exc, (OSError, TimeoutError))
                           and "ConnectionError" not in type(exc).__name__)

    def _store_worked(self) -> None:
        self._store.recovered("rate limit store is back; limits apply again")

    async def _hit(self, item: RateLimitItem, name: str, key: str) -> Verdict:
        try:
            allowed = await self.limiter.hit(item, "borderless", name, key)
            stats = None if allowed else await self.limiter.get_window_stats(item, "borderless", name, key)
        except Exception as exc:
            self._store_failed(exc, name)
            return ALLOWED
        self._store_worked()
        if stats is None:
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

    # ------------------------------------------------------------------ open sockets
    async def open_socket(self, address: str) -> bool:
        """Count a new shopper socket; False (not counted) when the address already has ``max_sockets`` open
        (across processes when Redis is configured and reachable, else in this process)."""
        count = self._sockets.get(address, 0)
        if self.shared is not None:
            try:
                took = await self.shared.open(address, self.max_sockets)
                self._store_worked()
                if not took:
                    return False
            except Exception as exc:  # Redis away: this process's own count still caps the address
                self._store_failed(exc, "open socket")
                if count >= self.max_sockets:
                    return False
        elif count >= self.max_sockets:
            return False
        self._sockets[address] = count + 1
        return True

    async def close_socket(self, address: str) -> None:
        count = self._sockets.get(address, 0) - 1
        if count > 0:
            self._sockets[address] = count
        else:
            self._sockets.pop(address, None)
        if self.shared is not None:
            try:
                await self.shared.close(address)
                self._store_worked()
            except Exception as exc:  # its lease expires instead
                self._store_failed(exc, "closed socket")

    def open_sockets(self, address: str) -> int:
        """This process's open shopper sockets from ``address``."""
        return self._sockets.get(address, 0)


class SharedSockets:
    """Open sockets per address across processes: a Redis sorted set per address whose members are this
    process's sockets, scored by the time their lease ends. A closed socket leaves the set at once; the leases
    of open ones are renewed every third of ``lease`` seconds, so the sockets of a process that died (SIGKILL,
    lost host) stop counting within ``lease`` seconds and never block an address for good."""

    def __init__(self, url: str, lease: float = SOCKET_LEASE_SECONDS) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        self._open = self._redis.register_script(_OPEN_SCRIPT)
        self.lease = lease
        self.node = uuid.uuid4().hex[:12]
        self._serial = 0
        self._held: dict[str, list[str]] = {}  # address -> members of this process's open sockets
        self._renewer: asyncio.Task[None] | None = None

    async def open(self, address: str, cap: int) -> bool:
        self._serial += 1
        member = f"{self.node}:{self._serial}"
        now = time.time()
        took = await self._open(keys=[SOCKETS_KEY + address],
                                args=[now, now + self.lease, member, cap, math.ceil(self.lease * 2)])
        if not took:
            return False
        self._held.setdefault(address, []).append(member)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="socket-leases")
        return True

    async def close(self, address: str) -> None:
        members = self._held.get(address)
        if not members:
            return  # opened while Redis was away: never counted there
        member = members.pop()
        if not members:
            del self._held[address]
        await self._redis.zrem(SOCKETS_KEY + address, member)

    async def _renew(self) -> None:
        while self._held:
            await asyncio.sleep(self.lease / 3)
            until = time.time() + self.lease
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for address, members in list(self._held.items()):
                        # XX: never re-add a socket that closed while this ran.
                        pipe.zadd(SOCKETS_KEY + address, dict.fromkeys(members, until), xx=True)
                        pipe.expire(SOCKETS_KEY + address, math.ceil(self.lease * 2))
                    await pipe.execute()
            except Exception as exc:  # Redis away: retried at the next turn; leases outlast two misses
                log.debug("socket lease renewal failed: %s", exc)

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewer
        await self._redis.aclose()
