"""The publish/subscribe interface every relay goes through, and its in-process implementation.

Channels used by the chat:

``conv:<conversation id>``
    Frames for the shopper sockets of one conversation (already shopper-safe).
``agents``
    Frames for agent consoles; each envelope says which agents it is for.

Messages are JSON-serialisable dicts (envelopes ``{"frame": {...}, ...}``), so an implementation backed by
Redis (or NATS, or PostgreSQL LISTEN/NOTIFY) only has to move JSON between processes. Everything is
committed to the database before it is published: a subscriber that misses an event (slow consumer,
reconnect, another worker) catches up from the database with ``last_seq``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


#: Delivered to every subscriber when the relay may have missed messages (a cross-process link dropped or came
#: back): catch up from the database. Implementations with nothing to miss (in-process) never send it.
RESYNC: dict[str, Any] = {"resync": True}


class SubscriberOverflow(Exception):
    """A subscriber fell too far behind and was dropped; it should reconnect and resume from the database."""


@runtime_checkable
class Subscription(Protocol):
    """Messages from the channels one subscriber listens to, in publish order per channel."""

    async def get(self) -> dict[str, Any]:
        """The next message; raises :class:`SubscriberOverflow` when messages were dropped."""
        ...

    async def close(self) -> None:
        """Stop listening; idempotent."""
        ...


@runtime_checkable
class PubSub(Protocol):
    """Fan-out of JSON messages to every subscriber of a channel, in this process or across workers."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver ``message`` to the channel's current subscribers (fire and forget, never blocks long)."""
        ...

    async def subscribe(self, channels: Iterable[str]) -> Subscription:
        """Start listening to ``channels``; messages published after this returns are delivered."""
        ...

    async def close(self) -> None:
        """Release connections (server shutdown)."""
        ...


class _MemorySubscription:
    def __init__(self, hub: InMemoryPubSub, channels: tuple[str, ...], maxsize: int) -> None:
        self._hub = hub
        self.channels = channels
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.closed = False

    def _deliver(self, message: dict[str, Any]) -> None:
        if self.closed or self.overflowed:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            # The queue is full, so nobody waits in get(); it drains what is queued, then raises.
            log.warning("subscriber on %s overflowed; dropping it", ",".join(self.channels))

    async def get(self) -> dict[str, Any]:
        if self._queue.empty() and self.overflowed:
            raise SubscriberOverflow(",".join(self.channels))
        if self.overflowed:
            return self._queue.get_nowait()
        return await self._queue.get()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._remove(self)


class InMemoryPubSub:
    """One process's pub/sub: per-channel sets of bounded queues. Publish never blocks; slow subscribers drop."""

    #: Never degraded: nothing can be missed inside one process (see ``RedisPubSub.degraded``).
    degraded = False

    def __init__(self, max_queue: int = 1000) -> None:
        self.max_queue = max_queue
        self._channels: dict[str, set[_MemorySubscription]] = {}

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for sub in list(self._channels.get(channel, ())):
            sub._deliver(message)

    async def subscribe(self, channels: Iterable[str]) -> Subscription:
        names = tuple(dict.fromkeys(channels))
        sub = _MemorySubscription(self, names, self.max_queue)
        for name in names:
            self._channels.setdefault(name, set()).add(sub)
        return sub

    def _remove(self, sub: _MemorySubscription) -> None:
        for name in sub.channels:
            subs = self._channels.get(name)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._channels[name]

    def subscriber_count(self, channel: str) -> int:
        """How many subscribers listen to ``channel`` (tests, metrics)."""
        return len(self._channels.get(channel, ()))

    async def close(self) -> None:
        self._channels.clear()


def create_pubsub(url: str, redis_url: str | None = None) -> PubSub:
    """The relay: Redis when ``redis_url`` (``BORDERLESS_REDIS_URL``) is set, else ``url``
    (``BORDERLESS_PUBSUB_URL``, ``memory://`` by default)."""
    if redis_url:
        url = redis_url
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    if scheme in ("memory", ""):
        return InMemoryPubSub()
    if scheme in ("redis", "rediss"):
        from bot.realtime.redis import RedisPubSub

        return RedisPubSub(url)
    raise ValueError(f"unknown pubsub URL scheme {scheme!r} (memory:// or redis://)")
