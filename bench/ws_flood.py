#!/usr/bin/env python3
"""One address floods the shopper socket; how long do everyone else's replies take?

A throwaway server (in this process, on a loopback port, a stand-in engine that spends ``--engine-ms`` per
answer like the real one's 10-20 ms) gets ``--flood`` sockets from one client address, each asking one question,
while ``--normal`` shoppers from other addresses ask theirs. Printed per variant: flood sockets refused (socket
cap or new-conversation limit), flood questions answered, and the normal shoppers' reply latency (median, max).
Variants: the default socket limits, and limits raised out of the way (what a per-socket budget amounts to).

    python bench/ws_flood.py --flood 300 --normal 5

Addresses are told to the server through ``X-Forwarded-For`` from a trusted 127.0.0.1, as nginx would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import create_app  # noqa: E402
from bot.nlu.base import ConversationContext, Decision  # noqa: E402
from bot.settings import Settings  # noqa: E402

OFF = {"address_rate_per_minute": 1_000_000, "address_conversations_per_minute": 1_000_000,
       "address_max_sockets": 1_000_000}


class StandInEngine:
    """Answers everything after ``seconds`` of (GIL-free) work, like the real engine's per-call cost."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.kb = None

    def respond(self, text: str, context: ConversationContext) -> Decision:
        time.sleep(self.seconds)
        return Decision(lang="en", intent="faq_question", action="answer", faq_id="shipping-times", confidence=0.9,
                        reason="confident", reply="Shipping takes 3-5 days.")


def start_server(data: Path, engine_ms: float, overrides: dict[str, Any]) -> tuple[uvicorn.Server, int]:
    settings = Settings(_env_file=None, data_dir=data, secret_key="bench", store_keys="demo",
                        trusted_proxies="127.0.0.1", sqlite_synchronous="NORMAL", **overrides)
    app = create_app(settings, engine=StandInEngine(engine_ms / 1000), preload_engine=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", ws="websockets-sansio",
                            proxy_headers=False, lifespan="on")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, port


async def ask(url: str, address: str, timeout: float) -> tuple[str, float | None]:
    """One shopper: hello, one question, wait for the bot. ``(outcome, seconds to the reply)``."""
    try:
        async with connect(url, additional_headers={"X-Forwarded-For": address}, open_timeout=timeout) as ws:
            await ws.send(json.dumps({"type": "hello", "store_key": "demo", "locale": "en"}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if welcome.get("type") != "welcome":
                return "refused", None
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": "shipping time?"}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, timeout - (time.perf_counter() - sent))))
                if frame.get("type") == "error":
                    return frame.get("code", "error"), None
                if frame.get("type") == "message" and frame["message"]["role"] == "bot":
                    return "answered", time.perf_counter() - sent
    except ConnectionClosed as exc:  # refused before our hello arrived: closed with 4429
        return ("refused" if exc.rcvd is not None and exc.rcvd.code == 4429 else "closed"), None
    except (TimeoutError, OSError):
        return "timeout", None


async def run_variant(port: int, flood: int, normal: int, timeout: float) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/ws/shopper"
    flooders = [asyncio.create_task(ask(url, "203.0.113.66", timeout)) for _ in range(flood)]
    await asyncio.sleep(0.5)  # the flood is in; now the other shoppers ask
    normals = await asyncio.gather(*(ask(url, f"198.51.100.{i + 1}", timeout) for i in range(normal)))
    flood_results = await asyncio.gather(*flooders)
    latencies = [s for outcome, s in normals if outcome == "answered" and s is not None]
    return {
        "flood_refused": sum(1 for o, _ in flood_results if o in ("refused", "rate_limited")),
        "flood_answered": sum(1 for o, _ in flood_results if o == "answered"),
        "flood_other": sum(1 for o, _ in flood_results if o not in ("refused", "rate_limited", "answered")),
        "normal_answered": f"{len(latencies)}/{normal}",
        "normal_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "normal_max_s": round(max(latencies), 2) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=300, help="sockets from the flooding address")
    parser.add_argument("--normal", type=int, default=5, help="shoppers from other addresses")
    parser.add_argument("--engine-ms", type=float, default=20.0, help="stand-in engine time per answer")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    rows = []
    for name, overrides in (("default limits", {}), ("limits off", OFF)):
        with tempfile.TemporaryDirectory(prefix="borderless-flood-") as tmp:
            server, port = start_server(Path(tmp), args.engine_ms, overrides)
            try:
                rows.append({"variant": name, **asyncio.run(run_variant(port, args.flood, args.normal,
                                                                        args.timeout))})
            finally:
                server.should_exit = True
                time.sleep(0.5)
    print(f"flood: {args.flood} sockets from one address, {args.normal} other shoppers, engine "
          f"{args.engine_ms:g} ms/answer")
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("| " + " | ".join("---" for _ in cols) + " |")
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
