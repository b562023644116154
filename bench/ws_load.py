#!/usr/bin/env python3
"""Load test for the shopper websocket: N concurrent shoppers against a running Borderless server.

Each simulated shopper connects, says hello, then sends ``--messages`` questions one after another and waits
for the bot's reply to each. Reported per level: reply latency (message sent -> bot reply received; p50, p95,
max), replies per second over the level's wall time, timeouts and errors.

    borderless serve --port 8000 &                 # or: python bench/ws_load.py --spawn
    python bench/ws_load.py --url ws://127.0.0.1:8000 --levels 10,100,500

Open loop (``--open-loop``): N shoppers each send a message every T seconds whatever the replies do (starts
spread over the first T seconds), for ``--duration`` seconds; reports p50/p95/p99, replies/s, errors, and the
server's CPU per reply when its process ids are known (``--spawn``, ``--cluster``, ``--server-pids``).

    python bench/ws_load.py --spawn --open-loop --shoppers 100 --interval 10 --duration 60

Several processes (``--cluster N``): starts PostgreSQL, Redis, nginx (deploy/nginx.conf) and N server processes
on loopback ports (tests/multinode_support.py), runs the load through nginx, and measures the cross-process relay
latency (an agent's reply posted on the last process -> the shopper's socket on the first) with ``--relay-probes``.

    python bench/ws_load.py --cluster 2 --open-loop --shoppers 1000 --interval 20 --duration 120
    python bench/ws_load.py --cluster 2 --levels 100 --messages 10        # closed loop: saturation

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
from typing import Any
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
    env = {**os.environ, "PYTHONPATH": str(REPO), "BORDERLESS_SHOPPER_RATE_PER_MINUTE": "1000",
           "BORDERLESS_ADDRESS_RATE_PER_MINUTE": "1000000", "BORDERLESS_ADDRESS_CONVERSATIONS_PER_MINUTE": "1000000",
           "BORDERLESS_ADDRESS_MAX_SOCKETS": "1000000"}
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


# ---------------------------------------------------------------------------------------------- open loop
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes (every thread) so far."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


@dataclass
class OpenResult:
    shoppers: int
    sent: int = 0
    replies: int = 0
    errors: int = 0
    unanswered: int = 0
    reconnects: int = 0
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    cpu: float | None = None

    def row(self) -> dict[str, float | int | None]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else float("nan")

        return {"shoppers": self.shoppers, "sent": self.sent, "replies": self.replies, "errors": self.errors,
                "unanswered": self.unanswered, "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                "replies_per_s": round(self.replies / self.wall, 1) if self.wall else 0.0,
                "cpu_ms_per_reply": round(1000 * self.cpu / self.replies, 1) if self.cpu and self.replies else None,
                "wall_s": round(self.wall, 1)}


async def open_shopper(index: int, args: argparse.Namespace, result: OpenResult, t0: float, end: float) -> None:
    """Send a message every ``interval`` seconds on a fixed schedule; a reply's latency is measured from its
    message's send time. A handoff (the bot stops answering) starts a new conversation."""
    locale, question = QUESTIONS[index % len(QUESTIONS)]
    next_at = t0 + (index / max(1, args.shoppers)) * args.interval
    sent_at: dict[int, float] = {}  # seq of our message -> time sent
    by_client: dict[str, float] = {}
    while next_at < end:
        try:
            async with connect(f"{args.url}/ws/shopper", max_size=2**22, open_timeout=args.timeout) as ws:
                await ws.send(json.dumps({"type": "hello", "store_key": args.store_key, "locale": locale}))
                if json.loads(await asyncio.wait_for(ws.recv(), args.timeout)).get("type") != "welcome":
                    raise RuntimeError("hello refused")

                async def sender() -> None:
                    nonlocal next_at
                    while next_at < end:
                        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                        client_id = uuid.uuid4().hex
                        by_client[client_id] = time.perf_counter()
                        await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": question}))
                        result.sent += 1
                        next_at += args.interval

                task = asyncio.create_task(sender())
                try:
                    while True:
                        wait = end + args.timeout - time.perf_counter()
                        if wait <= 0 or (task.done() and not sent_at and not by_client):
                            break
                        frame = json.loads(await asyncio.wait_for(ws.recv(), wait))
                        kind = frame.get("type")
                        if kind == "ack":
                            sent_at[frame["message"]["seq"]] = by_client.pop(frame["client_id"], time.perf_counter())
                        elif kind == "error":
                            result.errors += 1
                        elif kind == "message" and frame["message"]["role"] == "bot" and sent_at:
                            first = min(sent_at)  # the bot answers a conversation's messages in order
                            result.latencies.append(time.perf_counter() - sent_at.pop(first))
                            result.replies += 1
                            if frame["message"].get("action") == "handoff":
                                result.unanswered += len(sent_at) + len(by_client)
                                sent_at.clear()
                                by_client.clear()
                                break
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                if next_at >= end:
                    result.unanswered += len(sent_at) + len(by_client)
                    return
                result.reconnects += 1
        except (TimeoutError, OSError, RuntimeError, ValueError) as exc:
            log.debug("shopper %d: %s", index, exc)
            result.unanswered += len(sent_at) + len(by_client)
            result.errors += 1
            return
        except Exception as exc:  # e.g. the connection closed: count it, do not stop the run
            log.debug("shopper %d: %s", index, exc)
            result.errors += 1
            result.unanswered += len(sent_at) + len(by_client)
            return


async def run_open_loop(args: argparse.Namespace, pids: list[int]) -> OpenResult:
    result = OpenResult(args.shoppers)
    loop_start = time.perf_counter() + 2.0  # connections open during the first seconds of the schedule
    end = loop_start + args.duration
    cpu_before = cpu_seconds(pids) if pids else None
    tasks = [asyncio.create_task(open_shopper(i, args, result, loop_start, end)) for i in range(args.shoppers)]
    await asyncio.wait(tasks, timeout=args.duration + args.timeout + 30)
    result.wall = time.perf_counter() - loop_start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if cpu_before is not None:
        result.cpu = cpu_seconds(pids) - cpu_before
    return result


async def relay_probe(first_ws: str, last_http: str, probes: int) -> list[float]:
    """Agent reply posted on the last process -> shopper socket on the first process, in seconds."""
    from bot.auth.service import DEMO_PASSWORD

    token = httpx.post(f"{last_http}/api/auth/login", json={"username": "sam", "password": DEMO_PASSWORD},
                       timeout=30).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    out: list[float] = []
    async with connect(f"{first_ws}/ws/shopper") as ws, httpx.AsyncClient(timeout=30) as client:
        await ws.send(json.dumps({"type": "hello", "store_key": "demo", "locale": "en"}))
        cid = json.loads(await ws.recv())["conversation_id"]
        await ws.send(json.dumps({"type": "message", "client_id": "probe", "text": "I want to talk to a human"}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame.get("type") == "state" and frame.get("state") == "queued":
                break
        (await client.post(f"{last_http}/api/conversations/{cid}/claim", headers=headers)).raise_for_status()
        for n in range(probes):
            text = f"probe {n}"
            sent = time.perf_counter()
            (await client.post(f"{last_http}/api/conversations/{cid}/messages", headers=headers,
                               json={"text": text})).raise_for_status()
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame.get("type") == "message" and frame["message"]["text"] == text:
                    out.append(time.perf_counter() - sent)
                    break
            await asyncio.sleep(0.2)
    return out


def start_cluster(n: int, engine_factory: str | None) -> tuple[Any, list[Any], str]:
    """PostgreSQL + Redis + nginx + ``n`` server processes (tests/multinode_support.py)."""
    sys.path.insert(0, str(REPO / "tests"))
    from chat_support import shared_postgres
    from multinode_support import Nginx, Node, RedisServer, workdir

    pg = shared_postgres()
    if pg is None:
        raise SystemExit("--cluster needs Debian's postgresql")
    url = pg.create_database("bench_" + uuid.uuid4().hex[:8])
    tmp = workdir()
    redis = RedisServer(tmp)
    redis.start()
    env = {"BORDERLESS_DATABASE_URL": url, "BORDERLESS_REDIS_URL": redis.url, "BORDERLESS_SECRET_KEY": "bench",
           "BORDERLESS_DEMO": "true", "BORDERLESS_SHOPPER_RATE_PER_MINUTE": "100000",
           "BORDERLESS_ADDRESS_RATE_PER_MINUTE": "1000000", "BORDERLESS_ADDRESS_CONVERSATIONS_PER_MINUTE": "1000000",
           "BORDERLESS_ADDRESS_MAX_SOCKETS": "1000000"}
    if engine_factory:
        env["BORDERLESS_ENGINE_FACTORY"] = engine_factory
    nodes = [Node(f"n{i}", tmp, env) for i in range(n)]
    for node in nodes:  # one at a time: the first migrates and seeds
        node.start()
    nginx = Nginx(tmp / "nginx", [node.port for node in nodes])
    nginx.start()
    return (redis, nginx), nodes, nginx.ws


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
    parser.add_argument("--open-loop", action="store_true", help="N shoppers, one message every T seconds each")
    parser.add_argument("--shoppers", type=int, default=100, help="open loop: shoppers")
    parser.add_argument("--interval", type=float, default=10.0, help="open loop: seconds between a shopper's messages")
    parser.add_argument("--duration", type=float, default=60.0, help="open loop: seconds of sending")
    parser.add_argument("--server-pids", default="", help="comma-separated server pids (CPU per reply)")
    parser.add_argument("--cluster", type=int, default=0, help="start PostgreSQL, Redis, nginx and N servers")
    parser.add_argument("--engine-factory", default=None, help="--cluster: BORDERLESS_ENGINE_FACTORY")
    parser.add_argument("--relay-probes", type=int, default=20, help="--cluster >= 2: relay latency probes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if any(n < 1 or n > args.max_clients for n in levels):
        raise SystemExit(f"levels must be between 1 and {args.max_clients}")
    proc, data_dir = None, None
    pids = [int(p) for p in args.server_pids.split(",") if p.strip()]
    cluster_parts: tuple[Any, ...] = ()
    nodes: list[Any] = []
    if args.cluster:
        cluster_parts, nodes, args.url = start_cluster(args.cluster, args.engine_factory)
        pids = [node.proc.pid for node in nodes]
    elif args.spawn:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc, data_dir = spawn_server(port)
        args.url = f"ws://127.0.0.1:{port}"
        pids = [proc.pid]
    args.url = args.url.rstrip("/")
    require_loopback(args.url)
    http = args.url.replace("ws://", "http://").replace("wss://", "https://")
    try:
        wait_ready(http, 180 if args.spawn else 30)
        if args.open_loop:
            row = asyncio.run(run_open_loop(args, pids)).row()
            row["processes"] = max(1, args.cluster)
            if len(nodes) >= 2:
                probes = sorted(asyncio.run(relay_probe(nodes[0].ws, nodes[-1].http, args.relay_probes)))
                if probes:
                    row["relay_p50_ms"] = round(1000 * probes[len(probes) // 2], 1)
                    row["relay_max_ms"] = round(1000 * probes[-1], 1)
            print(json.dumps(row))
            return 0
        if not args.json:
            print(f"{'clients':>7} {'sent':>6} {'replies':>7} {'t/o':>4} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} "
                  f"{'max ms':>8} {'msg/s':>7} {'wall s':>7} cpu ms/reply")
        for n in levels:
            cpu_before = cpu_seconds(pids) if pids else None
            row = asyncio.run(run_level(args, n)).row()
            if cpu_before is not None and row["replies"]:
                row["cpu_ms_per_reply"] = round(1000 * (cpu_seconds(pids) - cpu_before) / row["replies"], 1)
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{row['clients']:>7} {row['sent']:>6} {row['replies']:>7} {row['timeouts']:>4} "
                      f"{row['errors']:>4} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8} "
                      f"{row['msgs_per_s']:>7} {row['wall_s']:>7} {row.get('cpu_ms_per_reply', '')}", flush=True)
    finally:
        for part in [*nodes, *cluster_parts]:
            part.stop()
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
