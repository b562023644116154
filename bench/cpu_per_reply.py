#!/usr/bin/env python3
"""CPU per reply: the chat server against the bare answer engine, in interleaved rounds of one run.

    python bench/cpu_per_reply.py [--messages 120] [--rounds 3] [--database-url postgresql://...]
        [--variant NAME:ENV=VALUE,ENV=VALUE ...]

Two processes stay up for the whole run: a worker that calls ``engine.respond`` on the dev-set messages
(the bare model), and ``borderless serve`` with its default engine, answering the same messages sent by one
websocket shopper at a time (closed loop: each message waits for its reply). Each round measures the CPU time
(user + system, every thread, from /proc) each process spent on those messages; rounds alternate bare / server
so that machine noise hits both alike. Prints a table per round and the median ratio over the rounds.
Several server variants (``--variant``, e.g. ``1-thread:BORDERLESS_ENGINE_THREADS=1``) run side by side,
each its own process, interleaved in every round.

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
from concurrent.futures import ThreadPoolExecutor
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
    # Called from one dedicated thread, as the server calls it (bot.conversations.engine): the model's OpenMP
    # team belongs to the calling thread, and a loaded machine treats the main thread's team differently.
    thread = ThreadPoolExecutor(1)

    def respond(text: str) -> None:
        thread.submit(engine.respond, text, ConversationContext()).result()

    for text in dev_texts(20):
        respond(text)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        n = int(line.split()[1])
        texts = dev_texts(n)
        started = time.perf_counter()
        for text in texts:
            respond(text)
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
    env = {**os.environ, "PYTHONPATH": str(REPO), "BORDERLESS_SHOPPER_RATE_PER_MINUTE": "100000",
           "BORDERLESS_ADDRESS_RATE_PER_MINUTE": "1000000", **env_extra}
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
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:ENV=VALUE,...",
                        help="a server variant with extra environment (default: 'server:' and "
                        "'server-1-thread:BORDERLESS_ENGINE_THREADS=1')")
    parser.add_argument("--bare-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_worker:
        bare_worker()
        return 0

    specs = args.variant or ["server:", "server-1-thread:BORDERLESS_ENGINE_THREADS=1"]
    variants: list[tuple[str, dict[str, str]]] = []
    for spec in specs:
        name, _, env_spec = spec.partition(":")
        variants.append((name, dict(kv.split("=", 1) for kv in env_spec.split(",") if kv)))
    data = Path(tempfile.mkdtemp(prefix="borderless-cpu-"))
    servers: list[tuple[str, subprocess.Popen, str]] = []
    bare = subprocess.Popen([sys.executable, __file__, "--bare-worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    rows = []
    ratios: dict[str, list[float]] = {name: [] for name, _ in variants}
    try:
        for name, env_extra in variants:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            (data / name).mkdir()
            servers.append((name, spawn_server(port, data / name, args.database_url, env_extra),
                            f"ws://127.0.0.1:{port}"))
        assert json.loads(bare.stdout.readline()).get("ready")
        for _name, _proc, url in servers:
            wait_ready(url.replace("ws://", "http://"))
            asyncio.run(server_round(url, dev_texts(20)))  # warm-up: first conversation, first commits
        texts = dev_texts(args.messages)
        for r in range(1, args.rounds + 1):
            before = cpu_seconds(bare.pid)
            bare.stdin.write(f"run {args.messages}\n")
            bare.stdin.flush()
            bare_wall = json.loads(bare.stdout.readline())["wall"]
            bare_cpu = (cpu_seconds(bare.pid) - before) / args.messages
            rows.append([r, "bare model", round(bare_cpu * 1000, 1), round(bare_wall / args.messages * 1000, 1), ""])
            for name, proc, url in servers:
                before = cpu_seconds(proc.pid)
                replies, wall = asyncio.run(server_round(url, texts))
                cpu = (cpu_seconds(proc.pid) - before) / replies
                ratios[name].append(cpu / bare_cpu)
                rows.append([r, name, round(cpu * 1000, 1), round(wall / replies * 1000, 1), round(cpu / bare_cpu, 2)])
                print(f"round {r}: bare {bare_cpu * 1000:.1f} ms CPU/msg, {name} {cpu * 1000:.1f} ms CPU/reply, "
                      f"ratio {cpu / bare_cpu:.2f}", file=sys.stderr, flush=True)
    finally:
        procs = [bare, *(proc for _, proc, _ in servers)]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(data, ignore_errors=True)
    print(markdown_table(["round", "process", "CPU ms per message/reply", "wall ms per message/reply",
                          "CPU vs bare model"], rows))
    print()
    for name, values in ratios.items():
        if values:
            print(f"{name}: median CPU ratio to the bare model over {len(values)} rounds: "
                  f"{statistics.median(values):.2f} ({args.messages} messages per round and process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
