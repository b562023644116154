#!/usr/bin/env python3
"""CPU per reply: the chat server against the bare answer engine, in interleaved rounds of one run.

    python bench/cpu_per_reply.py [--messages 120] [--rounds 3] [--database-url postgresql://...]

Two processes stay up for the whole run: a worker that calls ``engine.respond`` on the dev-set messages
(the bare model), and ``borderless serve`` with its default engine, answering the same messages sent by one
websocket shopper at a time (closed loop: each message waits for its reply). Each round measures the CPU time
(user + system, every thread, from /proc) each process spent on those messages; rounds alternate bare / server
so that machine noise hits both alike. Prints a table per round and the median ratio over the rounds.

Messages come from bench/data/dev.jsonl (the dev set); held-out data stays out of tuning.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, markdown_table  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def dev_texts(n: int) -> list[str]:
    rows = [json.loads(line) for line in (REPO / "bench/data/dev.jsonl").read_text("utf-8").splitlines() if line]
    texts = [r["text"] for r in rows]
    return (texts * (n // len(texts) + 1))[:n]


# ---------------------------------------------------------------------------------------------- bare worker
def bare_worker() -> None:
    """Build the engine, then answer ``run N`` commands from stdin; prints one JSON line per command."""
    from bot.nlu.base import ConversationContext
    from bot.nlu.pipeline import build_engine
    from bot.settings import Settings

    engine = build_engine(Settings())
    for text in dev_texts(20):
        engine.respond(text, ConversationContext())
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        n = int(line.split()[1])
        texts = dev_texts(n)
        started = time.perf_counter()
        for text in texts:
            engine.respond(text, ConversationContext())
        print(json.dumps({"wall": time.perf_counter() - started}), flush=True)


# ---------------------------------------------------------------------------------------------- server round
async def server_round(url: str, texts: list[str]) -> tuple[int, float]:
    """Send ``texts`` one at a time (new conversation after a handoff); returns (replies, wall seconds)."""
    from websockets.asyncio.client import connect

    replies = 0
    started = time.perf_counter()
    pending = list(texts)
    while pending:
        async with connect(f"{url}/ws/shopper", max_size=2**22) as ws:
            await ws.send(json.dumps({"type": "hello", "store_key": "demo", "locale": "en"}))
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome", welcome
            while pending:
                await ws.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": pending.pop()}))
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if frame.get("type") == "error":
                        raise RuntimeError(frame)
                    if frame.get("type") == "message" and frame["message"]["role"] == "bot":
                        replies += 1
                        break
                if frame["message"]["action"] == "handoff":
                    break  # queued for a person: the bot stays silent in this conversation
    return replies, time.perf_counter() - started


def spawn_server(port: int, data: Path, database_url: str | None, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "BORDERLESS_SHOPPER_RATE_PER_MINUTE": "100000", **env_extra}
    if database_url:
        env["BORDERLESS_DATABASE_URL"] = database_url
    return subprocess.Popen([sys.executable, "-m", "bot.serve", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data), "--log-level", "warning"], cwd=REPO, env=env)


def wait_ready(http: str, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{http}/healthz", timeout=2).json().get("engine") == "ready":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit("server not ready in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=120, help="messages per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the server (e.g. BORDERLESS_SQLITE_SYNCHRONOUS=NORMAL)")
    parser.add_argument("--bare-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_worker:
        bare_worker()
        return 0

    env_extra = dict(item.split("=", 1) for item in args.server_env)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = Path(tempfile.mkdtemp(prefix="borderless-cpu-"))
    server = spawn_server(port, data, args.database_url, env_extra)
    bare = subprocess.Popen([sys.executable, __file__, "--bare-worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    rows = []
    try:
        assert json.loads(bare.stdout.readline()).get("ready")
        wait_ready(f"http://127.0.0.1:{port}")
        url = f"ws://127.0.0.1:{port}"
        asyncio.run(server_round(url, dev_texts(20)))  # warm-up: first conversation, first commits
        texts = dev_texts(args.messages)
        for r in range(1, args.rounds + 1):
            before = cpu_seconds(bare.pid)
            bare.stdin.write(f"run {args.messages}\n")
            bare.stdin.flush()
            bare_wall = json.loads(bare.stdout.readline())["wall"]
            bare_cpu = (cpu_seconds(bare.pid) - before) / args.messages

            before = cpu_seconds(server.pid)
            replies, server_wall = asyncio.run(server_round(url, texts))
            server_cpu = (cpu_seconds(server.pid) - before) / replies
            rows.append([r, round(bare_cpu * 1000, 1), round(bare_wall / args.messages * 1000, 1),
                         round(server_cpu * 1000, 1), round(server_wall / replies * 1000, 1),
                         round(server_cpu / bare_cpu, 2)])
            print(f"round {r}: bare {bare_cpu * 1000:.1f} ms CPU/msg, server {server_cpu * 1000:.1f} ms CPU/reply, "
                  f"ratio {server_cpu / bare_cpu:.2f}", file=sys.stderr, flush=True)
    finally:
        bare.terminate()
        server.terminate()
        for proc in (bare, server):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(data, ignore_errors=True)
    print(markdown_table(["round", "bare CPU ms/msg", "bare wall ms/msg", "server CPU ms/reply",
                          "server wall ms/reply", "server/bare CPU"], rows))
    print(f"\nmedian server/bare CPU ratio over {len(rows)} rounds: "
          f"{statistics.median(r[-1] for r in rows):.2f} ({args.messages} messages per round and side)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
