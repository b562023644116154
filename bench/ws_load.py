#!/usr/bin/env python3
"""Load test for the shopper websocket: N concurrent shoppers against a running Borderless server.

Each simulated shopper connects, says hello, then sends ``--messages`` questions one after another and waits
for the bot's reply to each. Reported per level: reply latency (message sent -> bot reply received; p50, p95,
max), replies per second over the level's wall time, timeouts and errors.

    borderless serve --port 8000 &                 # or: python bench/ws_load.py --spawn
    python bench/ws_load.py --url ws://127.0.0.1:8000 --levels 10,100,500

Safety: only loopback addresses are accepted (127.0.0.0/8, ::1, localhost); every wait has a timeout and every
level a wall-clock cap, so the run always ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import connect

log = logging.getLogger("ws_load")
REPO = Path(__file__).resolve().parents[1]

QUESTIONS = [
    ("en-US", "How long does shipping take?"),
    ("es-ES", "¿Cuánto cuesta el envío?"),
    ("fr-FR", "Quels moyens de paiement acceptez-vous ?"),
    ("de-DE", "Kann ich meine Lieferadresse ändern?"),
    ("pt-BR", "Vocês entregam no Brasil?"),
    ("it-IT", "Quanto tempo ci vuole per la spedizione?"),
    ("ja-JP", "送料はいくらですか？"),
    ("zh-CN", "运费是多少？"),
    ("pl-PL", "Jakie metody płatności akceptujecie?"),
    ("tr-TR", "Kargo ne kadar sürer?"),
]


def require_loopback(url: str) -> None:
    """Refuse any target that is not this machine."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise SystemExit(f"cannot resolve {host!r}: {exc}") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise SystemExit(f"refusing {url}: ws_load only targets loopback addresses (127.0.0.0/8, ::1)")


@dataclass
class LevelResult:
    clients: int
    sent: int = 0
    replies: int = 0
    timeouts: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    settled: int = 0  # clients that said hello (or failed before it)

    def row(self) -> dict[str, float | int]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else float("nan")

        return {
            "clients": self.clients,
            "sent": self.sent,
            "replies": self.replies,
            "timeouts": self.timeouts,
            "errors": self.errors,
            "p50_ms": round(1000 * statistics.median(lat), 1) if lat else float("nan"),
            "p95_ms": pct(0.95),
            "max_ms": round(1000 * lat[-1], 1) if lat else float("nan"),
            "msgs_per_s": round(self.replies / self.wall, 1) if self.wall else 0.0,
            "wall_s": round(self.wall, 2),
        }


async def shopper(index: int, args: argparse.Namespace, result: LevelResult, start: asyncio.Event,
                  connect_slots: asyncio.Semaphore) -> None:
    locale, question = QUESTIONS[index % len(QUESTIONS)]
    try:
        async with connect_slots:
            ws = await asyncio.wait_for(connect(f"{args.url}/ws/shopper", max_size=2**20, open_timeout=args.timeout),
                                        args.timeout)
        async with ws:
            await ws.send(json.dumps({"type": "hello", "store_key": args.store_key, "conversation_id": None,
                                      "token": None, "locale": locale, "last_seq": 0}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), args.timeout))
            if welcome.get("type") != "welcome":
                raise RuntimeError(f"hello refused: {welcome}")
            result.settled += 1
            await start.wait()
            for _ in range(args.messages):
                await ws.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": question}))
                sent_at = time.perf_counter()
                result.sent += 1
                deadline = sent_at + args.timeout
                while True:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        result.timeouts += 1
                        return
                    try:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
                    except TimeoutError:
                        result.timeouts += 1
                        return
                    if frame.get("type") == "error":
                        result.errors += 1
                        return
                    if frame.get("type") == "message" and frame["message"]["role"] == "bot":
                        result.latencies.append(time.perf_counter() - sent_at)
                        result.replies += 1
                        if frame["message"].get("action") == "handoff":
                            return  # queued for a human: the bot will not answer again
                        break
    except Exception as exc:  # one broken client must not stop the level
        log.debug("client %d failed: %s", index, exc)
        result.errors += 1
        if not start.is_set():
            result.settled += 1


async def run_level(args: argparse.Namespace, clients: int) -> LevelResult:
    result = LevelResult(clients)
    start = asyncio.Event()
    slots = asyncio.Semaphore(50)  # bounded handshake concurrency
    tasks = [asyncio.create_task(shopper(i, args, result, start, slots)) for i in range(clients)]
    # open every connection and say hello first, then start everyone together
    connect_deadline = time.monotonic() + min(args.level_timeout, 10 + clients * 0.1)
    while result.settled < clients and time.monotonic() < connect_deadline:
        await asyncio.sleep(0.05)
    began = time.perf_counter()
    start.set()
    done, pending = await asyncio.wait(tasks, timeout=args.level_timeout)
    for task in pending:
        task.cancel()
        result.timeouts += 1
    await asyncio.gather(*pending, return_exceptions=True)
    result.wall = time.perf_counter() - began
    return result


def spawn_server(port: int) -> tuple[subprocess.Popen[bytes], Path]:
    data = Path(tempfile.mkdtemp(prefix="borderless-bench-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "BORDERLESS_SHOPPER_RATE_PER_MINUTE": "1000"}
    proc = subprocess.Popen([sys.executable, "-m", "bot.serve", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data), "--log-level", "warning"], cwd=REPO, env=env)
    return proc, data


def wait_ready(http: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"{http}/healthz", timeout=2).json()
            if health.get("engine") == "ready":
                return
            if health.get("engine") == "failed":
                raise SystemExit("the server's answer engine failed to build")
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("server not ready in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="ws://127.0.0.1:8000", help="server base URL (loopback only)")
    parser.add_argument("--levels", default="10,100,500", help="comma-separated numbers of concurrent shoppers")
    parser.add_argument("--messages", type=int, default=3, help="messages per shopper (each waits for its reply)")
    parser.add_argument("--store-key", default="demo")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one reply")
    parser.add_argument("--level-timeout", type=float, default=180.0, help="wall-clock cap per level (seconds)")
    parser.add_argument("--max-clients", type=int, default=1000, help="refuse levels above this")
    parser.add_argument("--spawn", action="store_true", help="start a throwaway server on a free loopback port")
    parser.add_argument("--json", action="store_true", help="print one JSON object per level")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if any(n < 1 or n > args.max_clients for n in levels):
        raise SystemExit(f"levels must be between 1 and {args.max_clients}")
    proc, data_dir = None, None
    if args.spawn:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc, data_dir = spawn_server(port)
        args.url = f"ws://127.0.0.1:{port}"
    args.url = args.url.rstrip("/")
    require_loopback(args.url)
    http = args.url.replace("ws://", "http://").replace("wss://", "https://")
    try:
        wait_ready(http, 180 if args.spawn else 30)
        if not args.json:
            print(f"{'clients':>7} {'sent':>6} {'replies':>7} {'t/o':>4} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} "
                  f"{'max ms':>8} {'msg/s':>7} {'wall s':>7}")
        for n in levels:
            row = asyncio.run(run_level(args, n)).row()
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{row['clients']:>7} {row['sent']:>6} {row['replies']:>7} {row['timeouts']:>4} "
                      f"{row['errors']:>4} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8} "
                      f"{row['msgs_per_s']:>7} {row['wall_s']:>7}", flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
