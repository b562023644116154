#!/usr/bin/env python3
"""CPU per reply: the chat server against the bare answer engine, in interleaved rounds of one run.

    python bench/cpu_per_reply.py [--messages 40] [--rounds 3] [--database-url postgresql://...]
        [--variant NAME:ENV=VALUE,ENV=VALUE ...]

What it measures. Two kinds of process stay up for the whole run, built from the same settings (the same
environment, so the same engine options and the same OMP_* variables):

- the bare model: a worker that calls ``engine.respond(text, ConversationContext())`` on one dedicated thread;
- ``borderless serve`` (SQLite in a temp dir unless --database-url) with its default engine, answering the same
  messages sent by one websocket shopper, one at a time (closed loop: each message waits for its reply; a
  handoff starts a new conversation). Its CPU includes everything a reply costs: the websocket frames, storing
  the shopper's message, the context read, the model, storing the reply, the reports listener, the relay.

Each round gives every process the same ``--messages`` dev-set messages (bench/data/dev.jsonl; a new slice per
round, and the warm-up uses other texts, so nothing is answered twice by one process), and reads the CPU time
(user + system) each process spent on them from /proc, split by thread: the model's threads (the engine thread
and the OpenMP workers it started, kernel name ``bl-engine``), the event loop (main thread) and the rest
(threadpool: database work). Rounds alternate bare / server so that machine noise hits both alike. Prints a
table per round and the median ratio (server CPU per reply / bare CPU per message) over the rounds.
Several server variants (``--variant``, e.g. ``all-threads:BORDERLESS_ENGINE_THREADS=0``) run side by side,
each its own process, interleaved in every round.

Both sides run with ``OMP_WAIT_POLICY=PASSIVE`` (the server's default, see bot/serve.py) unless the environment
sets another policy: with OpenMP's default, idle threads spin between parallel regions, and on a shared machine
CPU then measures contention rather than work.
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
#: Warm-up messages (the last ones of the dev set; rounds start at its beginning, so no text repeats early).
WARM_UP = 20


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread of process ``pid``: thread id -> (kernel name, CPU seconds so far)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return out


def split_cpu(pid: int, before: dict[int, tuple[str, float]]) -> tuple[float, float, float]:
    """CPU seconds since ``before``: (the model's threads, the main thread = event loop, every other thread).

    The model's threads are the engine's thread and the OpenMP workers it started: they carry
    ``ENGINE_THREAD_NAME`` (set by the server's engine executor and by the bare worker alike).
    """
    from bot.conversations.engine import ENGINE_THREAD_NAME

    model = main = other = 0.0
    for tid, (name, seconds) in thread_cpu(pid).items():
        delta = seconds - before.get(tid, (name, 0.0))[1]
        if name == ENGINE_THREAD_NAME.decode():
            model += delta
        elif tid == pid:
            main += delta
        else:
            other += delta
    return model, main, other


def dev_texts(n: int, start: int = 0) -> list[str]:
    """``n`` dev-set messages from position ``start`` (wrapping around: only past 180 do texts repeat)."""
    rows = [json.loads(line) for line in (REPO / "bench/data/dev.jsonl").read_text("utf-8").splitlines() if line]
    texts = [r["text"] for r in rows]
    return [texts[(start + i) % len(texts)] for i in range(n)]


# ---------------------------------------------------------------------------------------------- bare worker
def bare_worker() -> None:
    """Build the engine, then answer ``run N`` commands from stdin; prints one JSON line per command."""
    from bot.conversations.engine import name_os_thread
    from bot.nlu.base import ConversationContext
    from bot.nlu.pipeline import build_engine
    from bot.settings import Settings

    engine = build_engine(Settings())
    # Called from one dedicated thread, named like the server's (bot.conversations.engine): the model's OpenMP
    # team belongs to the calling thread, and the name lets the parent tell the model's threads apart.
    thread = ThreadPoolExecutor(1, initializer=name_os_thread)

    def respond(text: str) -> None:
        thread.submit(engine.respond, text, ConversationContext()).result()

    for text in dev_texts(WARM_UP, -WARM_UP):
        respond(text)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        n, start = (int(v) for v in line.split()[1:3])
        texts = dev_texts(n, start)
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
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if frame.get("type") == "error":
                        raise RuntimeError(frame)
                    if frame.get("type") == "message" and frame["message"]["role"] == "bot":
                        replies += 1
                        break
                if frame["message"]["action"] == "handoff":
                    break  # queued for a person: the bot stays silent in this conversation
    return replies, time.perf_counter() - started


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def spawn_server(port: int, data: Path, database_url: str | None, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BORDERLESS_SHOPPER_RATE_PER_MINUTE": "100000",
        "BORDERLESS_ADDRESS_RATE_PER_MINUTE": "1000000",
        # every handoff starts a new conversation from the same address
        "BORDERLESS_ADDRESS_CONVERSATIONS_PER_MINUTE": "1000000",
        **env_extra,
    }
    if database_url:
        env["BORDERLESS_DATABASE_URL"] = database_url
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )


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
    parser.add_argument(
        "--messages",
        type=int,
        default=40,
        help="messages per round and process (rounds x messages <= 160: no text repeats)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:ENV=VALUE,...",
        help="a server variant with extra environment (default: 'server:', the defaults; e.g. "
        "'all-threads:BORDERLESS_ENGINE_THREADS=0' adds a server whose model uses every core)",
    )
    parser.add_argument("--bare-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_worker:
        bare_worker()
        return 0

    # Like with like: the bare worker and the servers run under the same OpenMP wait policy. `borderless serve`
    # defaults to PASSIVE (bot/serve.py); the bare worker gets it here unless the environment says otherwise.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    specs = args.variant or ["server:"]
    variants: list[tuple[str, dict[str, str]]] = []
    for spec in specs:
        name, _, env_spec = spec.partition(":")
        variants.append((name, dict(kv.split("=", 1) for kv in env_spec.split(",") if kv)))
    data = Path(tempfile.mkdtemp(prefix="borderless-cpu-"))
    servers: list[tuple[str, subprocess.Popen, str]] = []
    bare = subprocess.Popen(
        [sys.executable, __file__, "--bare-worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    rows = []
    ratios: dict[str, list[float]] = {name: [] for name, _ in variants}
    try:
        for name, env_extra in variants:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            (data / name).mkdir()
            servers.append(
                (name, spawn_server(port, data / name, args.database_url, env_extra), f"ws://127.0.0.1:{port}")
            )
        assert json.loads(bare.stdout.readline()).get("ready")
        for _name, _proc, url in servers:
            wait_ready(url.replace("ws://", "http://"))
            # warm-up: first conversation, first commits (texts the rounds do not use)
            asyncio.run(server_round(url, dev_texts(WARM_UP, -WARM_UP)))
        for r in range(1, args.rounds + 1):
            # Every round its own messages (the same for every process): a text is never answered twice by one
            # process, so no cache on either side sees a repeat.
            start = (r - 1) * args.messages
            texts = dev_texts(args.messages, start)
            before, threads = cpu_seconds(bare.pid), thread_cpu(bare.pid)
            bare.stdin.write(f"run {args.messages} {start}\n")
            bare.stdin.flush()
            bare_wall = json.loads(bare.stdout.readline())["wall"]
            bare_cpu = (cpu_seconds(bare.pid) - before) / args.messages
            bare_model = split_cpu(bare.pid, threads)[0] / args.messages
            rows.append([r, "bare model", ms(bare_cpu), ms(bare_model), "", "", ms(bare_wall / args.messages), ""])
            for name, proc, url in servers:
                before, threads = cpu_seconds(proc.pid), thread_cpu(proc.pid)
                replies, wall = asyncio.run(server_round(url, list(reversed(texts))))
                cpu = (cpu_seconds(proc.pid) - before) / replies
                model, main, other = (v / replies for v in split_cpu(proc.pid, threads))
                ratios[name].append(cpu / bare_cpu)
                rows.append(
                    [r, name, ms(cpu), ms(model), ms(main), ms(other), ms(wall / replies), round(cpu / bare_cpu, 2)]
                )
                print(
                    f"round {r}: bare {bare_cpu * 1000:.1f} ms CPU/msg, {name} {cpu * 1000:.1f} ms CPU/reply, "
                    f"ratio {cpu / bare_cpu:.2f}",
                    file=sys.stderr,
                    flush=True,
                )
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
    print(
        markdown_table(
            [
                "round",
                "process",
                "CPU ms per message/reply",
                "of which model threads",
                "event loop",
                "other threads",
                "wall ms per message/reply",
                "CPU vs bare model",
            ],
            rows,
        )
    )
    print()
    for name, values in ratios.items():
        if values:
            print(
                f"{name}: median CPU ratio to the bare model over {len(values)} rounds: "
                f"{statistics.median(values):.2f} ({args.messages} messages per round and process)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
