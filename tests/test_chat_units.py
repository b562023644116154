"""Small pieces of the chat server: the pub/sub relay, frame parsing, origin policy, languages, settings."""

from __future__ import annotations

import asyncio
import json

import pytest
from chat_support import make_settings

from bot.conversations.texts import supported_locale, ui_text
from bot.conversations.ws import origin_allowed, parse_frame
from bot.db.session import database_url
from bot.realtime.pubsub import InMemoryPubSub, PubSub, SubscriberOverflow, create_pubsub


def test_in_memory_pubsub_fans_out_per_channel() -> None:
    async def scenario() -> None:
        bus = InMemoryPubSub()
        assert isinstance(bus, PubSub)
        a = await bus.subscribe(["conv:1"])
        b = await bus.subscribe(["conv:1", "agents"])
        c = await bus.subscribe(["conv:2"])
        await bus.publish("conv:1", {"n": 1})
        await bus.publish("agents", {"n": 2})
        await bus.publish("nobody", {"n": 3})
        assert await a.get() == {"n": 1}
        assert [await b.get(), await b.get()] == [{"n": 1}, {"n": 2}]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.get(), 0.05)
        await a.close()
        await a.close()  # idempotent
        assert bus.subscriber_count("conv:1") == 1
        await b.close()
        assert bus.subscriber_count("conv:1") == 0 and bus.subscriber_count("agents") == 0

    asyncio.run(scenario())


def test_slow_subscriber_is_dropped_not_the_publisher() -> None:
    async def scenario() -> None:
        bus = InMemoryPubSub(max_queue=3)
        slow = await bus.subscribe(["x"])
        for n in range(10):
            await bus.publish("x", {"n": n})  # never blocks
        assert [await slow.get() for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
        with pytest.raises(SubscriberOverflow):
            await slow.get()

    asyncio.run(scenario())


def test_create_pubsub() -> None:
    assert isinstance(create_pubsub("memory://"), InMemoryPubSub)
    from bot.realtime.redis import RedisPubSub

    assert isinstance(create_pubsub("redis://127.0.0.1:6379/0"), RedisPubSub)  # no connection until used
    assert isinstance(create_pubsub("memory://", redis_url="redis://127.0.0.1:6379/0"), RedisPubSub)
    with pytest.raises(ValueError):
        create_pubsub("carrier-pigeon://")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"text": "x" * 100}, "bad_json"),
        ({"text": "é" * 5000}, "too_large"),  # 10 000 bytes of UTF-8 > 8 000
        ({"bytes": b"\x00" * 9000}, "too_large"),
        ({"text": "[]"}, "bad_request"),
        ({"text": '{"type": 3}'}, "bad_request"),
        ({}, "bad_request"),
    ],
)
def test_parse_frame_errors(raw: dict, code: str) -> None:
    frame, error = parse_frame(raw, 8000)
    assert frame is None and error["code"] == code


def test_parse_frame_ok() -> None:
    frame, error = parse_frame({"text": json.dumps({"type": "ping"})}, 8000)
    assert error is None and frame == {"type": "ping"}
    frame, error = parse_frame({"bytes": b'{"type":"ping"}'}, 8000)
    assert frame == {"type": "ping"}


def test_origin_policy(tmp_path) -> None:
    s = make_settings(tmp_path, allowed_origins="https://shop.example, https://other.example/")
    assert origin_allowed(None, "chat.example", s)  # not a browser
    assert origin_allowed("https://chat.example", "chat.example", s)  # same origin
    assert origin_allowed("https://shop.example", "chat.example", s)
    assert origin_allowed("https://other.example", "chat.example", s)
    assert origin_allowed("http://localhost:5173", "chat.example", s)
    assert not origin_allowed("https://evil.example", "chat.example", s)
    assert not origin_allowed("null", "chat.example", s)
    assert not origin_allowed("https://shop.example.evil.com", "chat.example", s)
    strict = make_settings(tmp_path, allow_localhost_origins=False)
    assert not origin_allowed("http://localhost:5173", "chat.example", strict)
    assert origin_allowed("https://anything.example", "x", make_settings(tmp_path, allowed_origins="*"))


def test_languages_and_strings() -> None:
    assert supported_locale("es-ES") == "es" and supported_locale("zh_Hant_TW") == "zh"
    assert supported_locale("xx-YY", "de") == "de" and supported_locale(None) == "en"
    assert "Ana" in ui_text("agent_joined", "de", name="Ana")
    assert ui_text("no_such_key_anywhere", "en") == "no_such_key_anywhere"


def test_default_database_is_sqlite_under_data_dir(tmp_path) -> None:
    assert database_url(make_settings(tmp_path)) == f"sqlite:///{(tmp_path / 'borderless.db').resolve()}"
    pg = make_settings(tmp_path, database_url="postgresql://u:p@db/x")
    assert database_url(pg) == "postgresql+psycopg://u:p@db/x"
