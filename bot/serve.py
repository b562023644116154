"""``borderless serve``: run the chat server (widget, console, demo page, websockets, REST API).

The lead's ``bot.cli`` wires it with::

    from bot.serve import add_serve_parser
    add_serve_parser(subparsers)          # sets func=serve_command

Also runnable as ``python -m bot.serve --port 8000``.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn

from bot.settings import Settings

log = logging.getLogger(__name__)


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "serve",
        help="run the chat server",
        description="Run the chat server. Settings come from BORDERLESS_* environment variables (docs/deploy.md).",
    )
    add_serve_arguments(parser)
    parser.set_defaults(func=serve_command)
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the server stores everything (default BORDERLESS_DATA_DIR or ./data)")
    parser.add_argument("--demo", action="store_true",
                        help="create demo accounts on first run (admin/ana/li/sam/editor); never in production")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--no-preload", action="store_true",
                        help="build the answer engine on the first message instead of at startup")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Environment settings with the command line's overrides."""
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir).resolve()
    if getattr(args, "demo", False):
        overrides["demo"] = True
    return Settings(**overrides)


def configure_logging(level: str) -> None:
    """Log to stderr at ``level`` (also when ``bot.cli`` configured logging before us)."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("alembic", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class GracefulServer(uvicorn.Server):
    """uvicorn, plus on SIGTERM: stop accepting, finish the bot turns in flight while their sockets are still
    open, then close every socket with 1012 (service restart: the widget reconnects within 0.5 s, through the
    balancer to another process, and resumes with ``last_seq``)."""

    def __init__(self, config: uvicorn.Config, runtime: Any) -> None:
        super().__init__(config)
        self.runtime = runtime

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.runtime.closing = True
        for server in self.servers:  # new connections are refused: the balancer tries another process
            server.close()
        in_flight = self.runtime.turns_in_flight
        log.info("shutting down: finishing %d bot turns, then asking %d sockets to reconnect", in_flight,
                 len(self.runtime.sockets))
        await self.runtime.drain(self.runtime.settings.shutdown_grace_seconds)
        await super().shutdown(sockets)  # uvicorn closes open websockets with 1012


def uvicorn_config(app: Any, settings: Settings, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    """How the server runs its app (the tests run the same configuration)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ws_max_size=settings.ws_protocol_max_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=10,
        server_header=False,
        # X-Forwarded-For is read by bot.web.clients, only from BORDERLESS_TRUSTED_PROXIES; uvicorn's own
        # handling would believe any local peer and rewrite the address first.
        proxy_headers=False,
    )


def serve_command(args: argparse.Namespace) -> int:
    """Migrate the database (Alembic, to head), bootstrap accounts, serve until interrupted."""
    configure_logging(args.log_level)
    settings = settings_from_args(args)
    if settings.engine_threads > 0:  # before any OpenMP runtime (embedding model, faiss, torch) starts
        os.environ["OMP_NUM_THREADS"] = str(settings.engine_threads)
    # OpenMP's default lets the model's idle threads spin between parallel regions: in a server they spin against
    # the event loop and database threads for the same cores, and on a busy machine burn several times the
    # model's own CPU (docs/benchmarks.md, issue 9). Sleeping threads cost a wake-up instead. An explicit
    # OMP_WAIT_POLICY in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from bot.app import create_app

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, preload_engine=not args.no_preload)
    if settings.metrics_address:
        app.state.metrics.serve_on(settings.metrics_address)
    log.info("serving on http://%s:%d (data in %s)", args.host, args.port, settings.data_dir)
    config = uvicorn_config(app, settings, args.host, args.port, args.log_level)
    GracefulServer(config, app.state.chat).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="borderless serve")
    add_serve_arguments(parser)
    return serve_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
