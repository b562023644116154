"""Agent presence through Redis heartbeats with an expiry, the database as the fallback (bot/auth/presence.py),
against a real redis-server started on a free port."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from chat_support import make_settings
from multinode_support import RedisServer
from sqlalchemy import select, update

from bot.auth.models import User
from bot.auth.presence import AgentPresence, heartbeat
from bot.auth.service import create_user
from bot.db import migrate
from bot.db.session import Database
from bot.handoff.service import HandoffService


def _setup(tmp_path: Path, redis_url: str | None) -> tuple[Database, HandoffService, AgentPresence, int]:
    settings = make_settings(tmp_path, agent_presence_seconds=2, redis_url=redis_url)
    db = Database.from_settings(settings)
    migrate.upgrade(db.engine)
    with db.session() as session:
        agent_id = create_user(session, "ana", "x", languages="en", actor="test", min_score=None).id
    presence = AgentPresence.from_settings(settings)
    return db, HandoffService(db, settings, None, presence), presence, agent_id


def _availability(db: Database, handoff: HandoffService) -> str:
    with db.read() as session:
        return handoff.availability(session, "en")


def _forget_in_database(db: Database, agent_id: int) -> None:
    with db.session() as session:
        session.execute(update(User).where(User.id == agent_id).values(last_seen_at=None))


def _last_seen(db: Database, agent_id: int):
    with db.read() as session:
        return session.scalar(select(User.last_seen_at).where(User.id == agent_id))


def test_heartbeats_in_redis_expire_and_the_database_takes_over_while_redis_is_away(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    db, handoff, presence, agent = _setup(tmp_path, redis_server.url)
    assert presence.shared
    assert _availability(db, handoff) == "no_agent"

    heartbeat(db, presence, agent)
    assert _last_seen(db, agent) is not None  # the first beat of a process also writes the database
    _forget_in_database(db, agent)
    heartbeat(db, presence, agent)
    assert _last_seen(db, agent) is None  # half a window has not passed: Redis only
    assert _availability(db, handoff) == "online"  # read from Redis: the database says nothing

    time.sleep(2.3)  # the key expires after agent_presence_seconds
    assert _availability(db, handoff) == "no_agent"

    heartbeat(db, presence, agent)  # a window later: Redis and the database again
    assert _last_seen(db, agent) is not None and _availability(db, handoff) == "online"

    redis_server.stop()
    assert _availability(db, handoff) == "online"  # Redis away: the database's last_seen_at, no error
    _forget_in_database(db, agent)
    heartbeat(db, presence, agent)  # no error either; the beat goes to the database
    assert _last_seen(db, agent) is not None and _availability(db, handoff) == "online"

    redis_server.start()
    _forget_in_database(db, agent)
    presence._down_until = 0.0  # skip the retry pause
    assert _availability(db, handoff) == "no_agent"  # back on Redis, whose key expired meanwhile
    heartbeat(db, presence, agent)
    assert _availability(db, handoff) == "online"
    presence.close()
    db.dispose()


def test_an_api_call_beats_in_redis(tmp_path: Path, redis_server: RedisServer) -> None:
    from bot.auth.deps import principal_for_token
    from bot.auth.service import issue_token

    db, handoff, presence, agent = _setup(tmp_path, redis_server.url)
    with db.session() as session:
        token = issue_token(session, session.get(User, agent), 1)  # a login marks the row present
    _forget_in_database(db, agent)
    assert principal_for_token(db, token, presence).id == agent
    assert _last_seen(db, agent) is not None  # the row was stale: written too
    _forget_in_database(db, agent)
    assert _availability(db, handoff) == "online"  # the call's heartbeat, read from Redis
    assert principal_for_token(db, token, presence) is not None
    assert _last_seen(db, agent) is None  # written again only after half a window
    presence.close()
    db.dispose()


def test_without_redis_presence_is_the_database(tmp_path: Path) -> None:
    db, handoff, presence, agent = _setup(tmp_path, None)
    assert not presence.shared and presence.online([agent]) is None
    assert _availability(db, handoff) == "no_agent"
    heartbeat(db, presence, agent)
    assert _last_seen(db, agent) is not None and _availability(db, handoff) == "online"
    db.dispose()


# ---------------------------------------------------------------------------------------------- open sockets
def test_open_sockets_per_address_are_capped_across_processes_and_a_dead_one_frees_its_slots(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    from bot.conversations.ratelimit import SocketLimits

    async def scenario() -> None:
        settings = make_settings(tmp_path, redis_url=redis_server.url, address_max_sockets=2)
        a, b, dead = SocketLimits(settings), SocketLimits(settings), SocketLimits(settings)
        assert a.shared is not None and b.shared is not None and dead.shared is not None
        dead.shared.lease = 1.0  # a short lease so that the test sees it run out
        try:
            assert await a.open_socket("198.51.100.7") and await b.open_socket("198.51.100.7")
            assert not await a.open_socket("198.51.100.7")  # 2 open in all, one on each process
            assert await a.open_socket("198.51.100.8")  # addresses are counted apart
            await b.close_socket("198.51.100.7")
            assert await a.open_socket("198.51.100.7")  # a closed socket frees its slot for every process
            await a.close_socket("198.51.100.7")
            await a.close_socket("198.51.100.7")

            assert await dead.open_socket("198.51.100.9") and await dead.open_socket("198.51.100.9")
            assert not await a.open_socket("198.51.100.9")
            dead.shared._renewer.cancel()  # the process dies: no close, no renewal
            await asyncio.sleep(1.2)
            assert await a.open_socket("198.51.100.9")  # its leases ran out

            redis_server.stop()
            assert await a.open_socket("198.51.100.10")  # Redis away: this process's own count, no error
            assert await a.open_socket("198.51.100.10")
            assert not await a.open_socket("198.51.100.10")
            await a.close_socket("198.51.100.10")
        finally:
            for limits in (a, b, dead):
                await limits.shared.aclose()

    asyncio.run(scenario())


def test_without_redis_open_sockets_are_counted_per_process(tmp_path: Path) -> None:
    from bot.conversations.ratelimit import SocketLimits

    async def scenario() -> None:
        limits = SocketLimits(make_settings(tmp_path, address_max_sockets=1))
        assert limits.shared is None
        assert await limits.open_socket("198.51.100.7") and not await limits.open_socket("198.51.100.7")
        await limits.close_socket("198.51.100.7")
        assert await limits.open_socket("198.51.100.7")

    asyncio.run(scenario())
