"""Redis relay between server processes: pub/sub hints on top of the database, degrading to polling.

    publish(channel, msg) ─► local subscribers of this process (at once, no round trip)
                          └► PUBLISH borderless:<channel> {"n": node, "m": msg}   (other processes)
    one pub/sub connection per process ─► SUBSCRIBE per channel in use here ─► local fan-out (own node skipped)

Why pub/sub and not Streams: every frame is committed to the database before it is published and every
socket resumes from the database with ``last_seq``, so the relay only has to be fast, not durable. Streams would
store a second copy of what PostgreSQL already stores, need trimming, and consumer bookkeeping per socket.

What Redis does not deliver is caught up from the database. Whenever this process's link to Redis goes down or
comes back, every local subscriber receives ``{"resync": true}`` and reads what it missed from the database;
while the link is down :attr:`RedisPubSub.degraded` is true and sockets poll the database
(``BORDERLESS_RELAY_POLL_SECONDS``). A Redis outage costs latency, never an error or a lost message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.realtime.outage import OutageLog
from bot.realtime.pubsub import RESYNC, InMemoryPubSub, Subscription

log = logging.getLogger(__name__)

PREFIX = "borderless:"
NODES_CHANNEL = "__nodes__"  # a process that was cut off announces its return here
RECONNECT_MIN_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 3.0
PUBLISH_TIMEOUT_SECONDS = 1.0


class _RedisSubscription:
    """A local subscription that releases its Redis channels when closed."""

    def __init__(self, hub: RedisPubSub, inner: Subscription, channels: tuple[str, ...]) -> None:
        self._hub = hub
        self._inner = inner
        self.channels = channels
        self._closed = False

    async def get(self) -> dict[str, Any]:
        return await self._inner.get()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._inner.close()
            await self._hub._release(self.channels)


class RedisPubSub:
    """:class:`~bot.realtime.pubsub.PubSub` across processes through Redis pub/sub (see the module docstring)."""

    def __init__(self, url: str, prefix: str = PREFIX) -> None:
        # No client-side retries: a failure must surface here so that subscribers resync from the database.
        self._redis = redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=None,
                                     retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self.prefix = prefix
        self.node = uuid.uuid4().hex[:12]
        self._local = InMemoryPubSub()
        self._refs: dict[str, int] = {}
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._healthy = asyncio.Event()
        self._closing = False
        self.outages = 0
        self._outage = OutageLog(log)  # once per outage: sockets poll meanwhile, nothing to remind anyone of
        #: Something was published while the link was down, so the other processes missed it.
        self._unrelayed = False

    # ------------------------------------------------------------------ state
    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable: sockets poll the database instead."""
        return not self._healthy.is_set()

    async def wait_connected(self, timeout: float) -> bool:
        """Start the link (if not started) and wait up to ``timeout`` s for it; False if Redis is unreachable."""
        self._ensure_reader()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._healthy.wait(), timeout)
        return self._healthy.is_set()

    def _ensure_reader(self) -> None:
        if self._reader is None and not self._closing:
            self._reader = asyncio.create_task(self._run(), name="redis-relay")

    async def _resync_local(self) -> None:
        for channel in list(self._refs):
            await self._local.publish(channel, RESYNC)

    def _lost(self, exc: BaseException, restart: bool = False) -> None:
        """Mark the link down. ``restart``: the failure was seen outside the reader (a publish on a pooled
        connection gone stale across a Redis restart); the reader's own link may look fine, so it reconnects
        too, else nothing would ever mark the link healthy again."""
        if self._healthy.is_set():
            self._healthy.clear()
            self.outages += 1
            self._outage.failed("Redis relay unreachable (%s); sockets fall back to polling the database", exc)
            asyncio.get_running_loop().create_task(self._resync_local())
        if restart and self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            self._reader = None
            self._ensure_reader()

    # ------------------------------------------------------------------ publish / subscribe
    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self._local.publish(channel, message)
        if not self._healthy.is_set():
            self._unrelayed = True
            self._ensure_reader()
            return  # other processes poll the database meanwhile
        data = json.dumps({"n": self.node, "m": message}, separators=(",", ":"))
        try:
            await asyncio.wait_for(self._redis.publish(self.prefix + channel, data), PUBLISH_TIMEOUT_SECONDS)
        except (redis.RedisError, OSError, TimeoutError) as exc:
            self._lost(exc, restart=True)

    async def subscribe(self, channels: Iterable[str]) -> Subscription:
        names = tuple(dict.fromkeys(channels))
        self._ensure_reader()
        inner = await self._local.subscribe(names)
        new = []
        for name in names:
            self._refs[name] = self._refs.get(name, 0) + 1
            if self._refs[name] == 1:
                new.append(self.prefix + name)
        if new and self._healthy.is_set() and self._pubsub is not None:
            try:
                await self._pubsub.subscribe(*new)
            except (redis.RedisError, OSError) as exc:
                self._lost(exc, restart=True)
        return _RedisSubscription(self, inner, names)

    async def _release(self, channels: tuple[str, ...]) -> None:
        gone = []
        for name in channels:
            count = self._refs.get(name, 0) - 1
            if count <= 0:
                self._refs.pop(name, None)
                gone.append(self.prefix + name)
            else:
                self._refs[name] = count
        if gone and self._healthy.is_set() and self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(*gone)
            except (redis.RedisError, OSError) as exc:
                self._lost(exc, restart=True)

    def subscriber_count(self, channel: str) -> int:
        return self._local.subscriber_count(channel)

    # ------------------------------------------------------------------ the link
    async def _run(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while not self._closing:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.prefix + NODES_CHANNEL)
                channels = [self.prefix + name for name in self._refs]
                for start in range(0, len(channels), 500):
                    await pubsub.subscribe(*channels[start:start + 500])
                self._pubsub = pubsub
                await self._redis.ping()
                if not self._healthy.is_set():
                    if not self._outage.recovered("Redis relay is back; sockets catch up from the database"):
                        log.info("Redis relay connected (node %s)", self.node)
                    self._healthy.set()
                    await self._resync_local()  # what was published while we were away or subscribing
                    # What this process committed while cut off was never published: the others catch up too.
                    # Only then: a plain first connect would make every other process's sockets re-read the
                    # database at each deploy for nothing.
                    if self.outages or self._unrelayed:
                        self._unrelayed = False
                        await self._redis.publish(self.prefix + NODES_CHANNEL,
                                                  json.dumps({"n": self.node, "m": {"back": True}}))
                delay = RECONNECT_MIN_SECONDS
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, TimeoutError) as exc:
                if self._healthy.is_set():
                    self._lost(exc)
                else:  # never connected yet, or still away (then nothing is logged again)
                    self._outage.failed("Redis relay unreachable (%s); sockets poll the database until it is back",
                                        exc)
            except Exception:
                log.exception("Redis relay reader failed")
                self._lost(RuntimeError("reader failed"))
            finally:
                if self._pubsub is pubsub:
                    self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if not self._closing:
                await asyncio.sleep(delay)
                delay = min(RECONNECT_MAX_SECONDS, delay * 2)

    async def _listen(self, pubsub: Any) -> None:
        while not self._closing:
            item = await pubsub.get_message(timeout=None)
            if item is None or item.get("type") != "message":
                continue
            try:
                payload = json.loads(item["data"])
            except (ValueError, TypeError):
                log.warning("ignoring a malformed relay message")
                continue
            if payload.get("n") == self.node:
                continue  # delivered locally when published
            channel = item["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            channel = channel.removeprefix(self.prefix)
            if channel == NODES_CHANNEL:
                await self._resync_local()
            else:
                await self._local.publish(channel, payload["m"])

    # ------------------------------------------------------------------ simple keys (presence, revisions)
    @property
    def client(self) -> Any:
        """The Redis client, for small keyed values (presence heartbeats)."""
        return self._redis

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self._local.close()
        with contextlib.suppress(Exception):
            await self._redis.aclose()
