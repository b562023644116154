"""The Redis relay on its own (bot/realtime/redis.py) against a real redis-server, and the seq bookkeeping that
lets sockets catch up without duplicates. The end-to-end behaviour is in tests/test_multinode.py."""

from __future__ import annotations

import asyncio
import logging

import pytest
from multinode_support import RedisServer

from bot.conversations.ws import SeqTracker
from bot.realtime.outage import OutageLog
from bot.realtime.pubsub import RESYNC
from bot.realtime.redis import RedisPubSub


def test_seq_tracker_accepts_out_of_order_once_and_knows_its_gap_free_prefix() -> None:
    t = SeqTracker(2)
    assert not t.add(1) and not t.add(2)  # the client had them before hello
    assert t.add(4) and t.contiguous == 2  # 3 is still missing: catch-up reads from 3
    assert not t.add(4)
    assert t.add(3) and t.contiguous == 4
    assert t.add(None)  # frames without a seq are never dropped


def test_an_outage_is_logged_when_it_starts_at_most_every_n_seconds_while_it_lasts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("test.outage")
    caplog.set_level(logging.INFO, logger="test.outage")

    def said() -> list[str]:
        lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        caplog.clear()
        return lines

    hourly = OutageLog(log, every=3600)
    assert not hourly.recovered("back") and said() == []  # nothing was down
    hourly.failed("down (%s)", "refused")
    hourly.failed("down (%s)", "refused")
    assert hourly.down and said() == ["down (refused)"]  # once, not once per request
    assert hourly.recovered("back %s", 1) and not hourly.down and said() == ["back 1"]
    hourly.failed("down again")
    assert said() == ["down again"]  # a new outage is told at once

    always = OutageLog(log, every=0.0)
    always.failed("down")
    always.failed("down")
    assert said() == ["down", "down"]  # the reminder interval passed
    once = OutageLog(log)  # every=None: once per outage
    once.failed("down")
    once.failed("down")
    assert said() == ["down"]


async def _next(sub, timeout: float = 5.0) -> dict:
    return await asyncio.wait_for(sub.get(), timeout)


def test_two_processes_relay_and_resync_around_an_outage(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        a, b = RedisPubSub(redis_server.url), RedisPubSub(redis_server.url)
        try:
            assert await a.wait_connected(5) and await b.wait_connected(5)
            sub_b = await b.subscribe(["conv:1"])
            sub_a = await a.subscribe(["conv:1"])
            await asyncio.sleep(0.2)  # SUBSCRIBE reaches Redis
            await a.publish("conv:1", {"frame": {"n": 1}})
            assert await _next(sub_a) == {"frame": {"n": 1}}  # local delivery, no round trip
            assert await _next(sub_b) == {"frame": {"n": 1}}  # through Redis
            with pytest.raises(TimeoutError):
                await _next(sub_a, 0.3)  # its own message is not delivered twice

            redis_server.stop()
            assert await _next(sub_b) == RESYNC  # catch up from the database, then poll
            await asyncio.sleep(0.2)
            assert a.degraded and b.degraded
            assert await _next(sub_a) == RESYNC
            await a.publish("conv:1", {"frame": {"n": 2}})  # no error while Redis is away
            assert await _next(sub_a) == {"frame": {"n": 2}}  # this process's sockets still get it at once

            redis_server.start()
            assert await b.wait_connected(10) and await a.wait_connected(10)
            assert await _next(sub_b) == RESYNC  # back: catch up what was missed meanwhile
            await a.publish("conv:1", {"frame": {"n": 3}})
            while (frame := await _next(sub_b)) == RESYNC:
                pass
            assert frame == {"frame": {"n": 3}}
        finally:
            await a.close()
            await b.close()

    asyncio.run(scenario())
