"""Helpers for tests/test_multinode.py (and bench/ws_load.py --nodes): Redis, nginx and Borderless server
processes on loopback ports, and an answer engine that follows the editor without loading models.

Not a conftest, so it cannot clash with fixtures other parts of the project define.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from chat_support import FakeEngine, Loopback, ServeProcess, free_port  # noqa: E402

from bot.knowledge.models import KnowledgeBase  # noqa: E402
from bot.nlu.base import ConversationContext, Decision, KnowledgeSync  # noqa: E402
from bot.settings import Settings  # noqa: E402

NGINX_CONF = REPO / "deploy" / "nginx.conf"


def missing_binaries() -> list[str]:
    """Debian binaries the multi-node setup needs and this machine lacks."""
    from chat_support import pg_bin_dir

    missing = [name for name in ("redis-server", "nginx") if shutil.which(name) is None
               and not Path(f"/usr/sbin/{name}").exists()]
    if pg_bin_dir() is None:
        missing.append("postgresql")
    return missing


# ---------------------------------------------------------------------------------------------- engine
class FollowingEngine(FakeEngine):
    """:class:`FakeEngine` that also answers the published knowledge base's questions word for word and follows
    the editor like the real engine does (``bot.editor.live``: apply_changes / swap_knowledge), in microseconds."""

    def __init__(self, kb: KnowledgeBase) -> None:
        super().__init__()
        self.kb = kb
        self.embedder = self  # the editor pre-embeds new questions in the background: nothing to do here
        self.knowledge_sync = KnowledgeSync()  # bot.nlu.base.LiveEngine: the editor keeps it in step

    def snapshot(self) -> KnowledgeBase:
        return self.kb

    def with_state(self, state: KnowledgeBase) -> FollowingEngine:
        return FollowingEngine(state)

    def embed_passages(self, texts: list[str]) -> None:
        return None

    def _questions(self) -> dict[str, tuple[str, str]]:
        out = {}
        for entry in self.kb.published():
            for locale, content in entry.locales.items():
                for q in content.questions:
                    out[q.strip().lower()] = (entry.id, content.answer, locale)
        return out

    def respond(self, text: str, context: ConversationContext) -> Decision:
        hit = self._questions().get(text.strip().lower())
        if hit is None:
            return super().respond(text, context)
        faq_id, answer, locale = hit
        return Decision(lang=locale.split("-")[0], intent="faq_question", action="answer", faq_id=faq_id,
                        confidence=0.99, reason="confident", reply=answer)

    def apply_changes(self, changes: dict[str, Any]) -> None:
        entries = dict(self.kb.entries)
        for faq_id, entry in changes.items():
            if entry is None:
                entries.pop(faq_id, None)
            else:
                entries[faq_id] = entry
        self.kb = KnowledgeBase(entries=entries, default_locale=self.kb.default_locale)

    def swap_knowledge(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def preview(self, changes: dict[str, Any], base: Any = None) -> FollowingEngine:
        view = FollowingEngine(self.kb)
        view.apply_changes(changes)
        return view

    def knowledge_status(self) -> dict[str, Any]:
        return {"entries": len(self.kb.entries)}


def build_following_engine(settings: Settings) -> FollowingEngine:
    """``BORDERLESS_ENGINE_FACTORY=multinode_support:build_following_engine``: seeded and synced like
    ``bot.editor.live.build_engine``, but its poller is slow (60 s), so only the Redis push can be fast."""
    from bot.db.migrate import startup_lock
    from bot.db.session import Database
    from bot.editor import live, published, seeding

    db = Database.from_settings(settings)
    with startup_lock(db.engine, "borderless-kb-seed"):
        seeding.ensure_seeded(db.session, settings)
    with db.session() as session:
        kb, revision = published.published_kb(session)
    engine = FollowingEngine(kb)
    live.mark_built(engine, db, revision)
    live.start_poller(engine, db, interval=60.0)
    return engine


# ---------------------------------------------------------------------------------------------- processes
def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up in {timeout:.0f}s")


class RedisServer:
    """Debian's redis-server on 127.0.0.1:<port>, no persistence; can be stopped and started on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ping() -> bool:
            import redis

            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())

        _wait(ping, 15, "redis-server")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def render_nginx_conf(listen_port: int, upstream_ports: list[int], fail_timeout: str = "2s") -> str:
    """deploy/nginx.conf with loopback ports on its ``@listen`` and ``@node`` lines."""
    out = []
    nodes_done = False
    for line in NGINX_CONF.read_text().splitlines():
        if line.rstrip().endswith("# @listen"):
            line = re.sub(r"listen\s+\S+;", f"listen 127.0.0.1:{listen_port};", line)
        elif line.rstrip().endswith("# @node"):
            if nodes_done:
                continue
            indent = line[: len(line) - len(line.lstrip())]
            line = "\n".join(f"{indent}server 127.0.0.1:{p} max_fails=1 fail_timeout={fail_timeout};"
                             for p in upstream_ports)
            nodes_done = True
        out.append(line)
    return "\n".join(out) + "\n"


class Nginx(Loopback):
    """Debian's nginx running deploy/nginx.conf (loopback ports) in a private prefix."""

    def __init__(self, workdir: Path, upstream_ports: list[int]) -> None:
        self.port = free_port()
        self.dir = workdir
        self.upstream_ports = upstream_ports
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        text = render_nginx_conf(self.port, self.upstream_ports)
        # temp files inside the prefix (Debian's defaults live under /var/lib/nginx, root only)
        text = text.replace("http {\n", "http {\n    client_body_temp_path tmp/body;\n    proxy_temp_path tmp/proxy;\n"
                            "    fastcgi_temp_path tmp/fcgi;\n    uwsgi_temp_path tmp/uwsgi;\n"
                            "    scgi_temp_path tmp/scgi;\n", 1)
        conf.write_text(text)
        (self.dir / "tmp").mkdir(exist_ok=True)
        os.chmod(self.dir / "tmp", 0o777)
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen(
            [exe, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log"),
             "-g", f"daemon off; pid {self.dir / 'nginx.pid'};"],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "wb"))  # noqa: SIM115
        _wait(lambda: httpx.get(f"{self.http}/healthz", timeout=2).status_code in (200, 502, 503), 15, "nginx")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            if self.proc.poll() is None:
                self.proc.kill()
        self.proc = None


class Node(ServeProcess):
    """One ``python -m bot.serve`` process on 127.0.0.1:<port> with the given environment."""

    def __init__(self, name: str, workdir: Path, env: dict[str, str], port: int | None = None) -> None:
        super().__init__(workdir / name, dict(env), port)
        self.name = name

    def start(self, wait_engine: bool = True) -> None:  # type: ignore[override]
        try:  # a loaded 2-core CI machine can be slow to start two
            super().start(lambda body: body["status"] == "ok" and (not wait_engine or body["engine"] == "ready"),
                          timeout=150)
        except RuntimeError as exc:
            raise RuntimeError(f"node {self.name}: {exc}") from None


def workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="borderless-multinode-"))
    os.chmod(path, 0o755)
    return path
