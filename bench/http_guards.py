#!/usr/bin/env python3
"""What the HTTP guards cost and what they save (bot/web/guards.py, bot/auth/throttle.py, bot/auth/passwords.py).

Two servers side by side on loopback (the fast stand-in engine, SQLite in a temp dir): the app as shipped, and
the same app with the body-limit, Unicode and header middleware taken out. Printed:

1. Time per request for a small JSON POST (``/api/auth/login`` with a body that fails validation: no password
   hashing, so the middleware's share is as large as it gets), called in process through ASGI so network noise
   stays out; medians of ``--rounds`` interleaved rounds.
2. Server memory growth while a client streams a chunked 50 MB body with no ``Content-Length``.
3. Per-call cost of the login throttle (memory storage) and of the zxcvbn password check.

    python bench/http_guards.py            # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from chat_support import LiveServer, make_app  # noqa: E402

from bot.auth.passwords import password_problem  # noqa: E402
from bot.auth.throttle import LoginThrottle  # noqa: E402
from bot.web.guards import BodyLimitMiddleware, JsonUnicodeMiddleware, SecurityHeadersMiddleware  # noqa: E402

GUARDS = (BodyLimitMiddleware, JsonUnicodeMiddleware, SecurityHeadersMiddleware)


def build(data_dir: Path, guarded: bool) -> object:
    app = make_app(data_dir)
    if not guarded:
        app.user_middleware = [m for m in app.user_middleware if m.cls not in GUARDS]
    return app


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _post_time(app: object, n: int) -> float:
    body, headers = b'{"username": "nobody"}', {"Content-Type": "application/json"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for _ in range(20):  # warm up
            await client.post("/api/auth/login", content=body, headers=headers)
        started = time.perf_counter()
        for _ in range(n):
            await client.post("/api/auth/login", content=body, headers=headers)
        return (time.perf_counter() - started) / n * 1e6


def post_time(app: object, n: int) -> float:
    """Microseconds per request, in process."""
    return asyncio.run(_post_time(app, n))


def stream_growth(base: str, megabytes: int) -> tuple[int, float]:
    """(status, MiB the process grew by at peak) while streaming ``megabytes`` of chunked body."""
    peak = start = rss_mib()
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_mib())
            time.sleep(0.005)

    def body() -> Iterator[bytes]:
        chunk = b" " * (1 << 20)
        for _ in range(megabytes):
            yield chunk

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        status = httpx.post(f"{base}/api/auth/login", content=body(), timeout=60,
                            headers={"Content-Type": "application/json"}).status_code
    except httpx.HTTPError:
        status = 0  # the server answered 413 and closed while the client was still sending
    stop.set()
    sampler.join()
    return status, peak - start


def timed(fn, n: int) -> float:  # noqa: ANN001
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - started) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300, help="requests per round")
    parser.add_argument("--megabytes", type=int, default=50)
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(LiveServer(build(Path(tmp) / name, name == "guarded")))
                   for name in ("guarded", "unguarded")}
        times: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(args.rounds):  # interleaved, so load from other processes hits both alike
            for name, server in servers.items():
                times[name].append(post_time(server.app, args.requests))
        # Guarded first: growth is measured from the current level, and memory the unguarded run freed could
        # otherwise be reused without showing as growth.
        growth = {name: stream_growth(servers[name].http, args.megabytes) for name in ("guarded", "unguarded")}
        for name in servers:
            status, grown = growth[name]
            rows.append((name, statistics.median(times[name]), status, grown))

    print(f"| app | JSON POST, µs per request (median of {args.rounds}) | {args.megabytes} MB chunked body: "
          "status | server memory growth |")
    print("| --- | --- | --- | --- |")
    for name, per_request, status, grown in rows:
        print(f"| {name} | {per_request:.0f} | {status or 'closed'} | {grown:.0f} MiB |")
    print(f"\nguarded / unguarded time per request: {rows[0][1] / rows[1][1]:.3f}")

    throttle = LoginThrottle()
    hit = timed(lambda i: throttle.failed(f"user{i}", "192.0.2.1"), 20_000)
    check = timed(lambda i: throttle.blocked(f"user{i}", "192.0.2.1"), 20_000)
    strength = timed(lambda i: password_problem(f"plum-kayak-meadow-{i}", ("ana",)), 300)
    print("\n| operation | µs per call |\n| --- | --- |")
    print(f"| throttle: count a failure (memory://) | {hit:.1f} |")
    print(f"| throttle: blocked? (memory://) | {check:.1f} |")
    print(f"| zxcvbn password check (19 chars) | {strength:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
