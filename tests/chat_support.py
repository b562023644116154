"""Helpers for the live-chat tests: a deterministic fake engine, a real uvicorn server in a thread,
a websocket shopper client, and a throwaway PostgreSQL cluster.

Imported by tests/test_chat_*.py, test_auth*.py, test_queue*.py and test_pg*.py (not a conftest, so it
cannot clash with fixtures other parts of the project define).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from glob import glob
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # plain `pytest` without an installed package or pythonpath setting
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from websockets.sync.client import ClientConnection, connect  # noqa: E402

from bot.auth.service import set_password_hasher  # noqa: E402
from bot.nlu.base import ConversationContext, Decision, Suggestion, Turn  # noqa: E402
from bot.settings import Settings  # noqa: E402

# Production argon2 parameters cost ~0.4 s a hash on a small machine; tests hash dozens of passwords.
set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# ---------------------------------------------------------------------------------------------- engine
class FakeEngine:
    """Deterministic stand-in for ``AnswerEngine``: keywords pick the action.

    "human"/"agent"/"persona" -> handoff; "which"/"clarify" -> clarify; "slow" -> sleeps 1.5 s first;
    "boom" -> raises; anything else -> answer shipping-times with confidence 0.91.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, ConversationContext]] = []
        self.kb = None

    def respond(self, text: str, context: ConversationContext) -> Decision:
        self.calls.append((text, context))
        low = text.lower()
        if "slow" in low:
            time.sleep(1.5)
        if "boom" in low:
            raise RuntimeError("engine exploded")
        lang = context.lang or (context.locale_hint or "en").split("-")[0]
        if "¿" in text or "hola" in low:
            lang = "es"
        if any(w in low for w in ("human", "agent", "persona")):
            decision = Decision(lang=lang, intent="human_request", action="handoff", faq_id=None, confidence=0.95,
                                reason="human_request", reply=f"[{lang}] connecting you to a person")
        elif any(w in low for w in ("which", "clarify")):
            decision = Decision(lang=lang, intent="faq_question", action="clarify", faq_id=None, confidence=0.7,
                                reason="ambiguous", reply=f"[{lang}] did you mean",
                                suggestions=[Suggestion("shipping-times", "How long does shipping take?"),
                                             Suggestion("shipping-costs", "How much is shipping?")])
        else:
            decision = Decision(lang=lang, intent="faq_question", action="answer", faq_id="shipping-times",
                                confidence=0.91, reason="confident", reply=f"[{lang}] answer to: {text[:50]}")
        context.lang = lang
        context.turns.append(Turn(lang=lang, action=decision.action, unresolved=decision.action != "answer"))
        return decision


_real_engine: Any = None


def real_engine() -> Any:
    """The real ``AnswerEngine`` from the default settings, built and warmed once per test process."""
    global _real_engine
    if _real_engine is None:
        from bot.nlu.pipeline import build_engine

        engine = build_engine(Settings(_env_file=None))
        engine.respond("hello", ConversationContext())  # load lazily initialised models once
        _real_engine = engine
    return _real_engine


def build_fake_engine(settings: Settings) -> FakeEngine:
    """``BORDERLESS_ENGINE_FACTORY=chat_support:build_fake_engine`` for server subprocesses."""
    return FakeEngine()


# ---------------------------------------------------------------------------------------------- settings
def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "secret_key": "test-secret",
        "store_keys": "demo,other",
        "engine_factory": "chat_support:build_fake_engine",
        "agent_presence_seconds": 60,
        "translator": "none",  # tests about translated chat pick one; nothing else loads Argos
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------- live server
class Loopback:
    """Something listening on 127.0.0.1:``port``, with its HTTP and websocket base URLs."""

    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


class LiveServer(Loopback):
    """A real uvicorn server on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app: Any, ws_max_size: int = 1_048_576) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", ws="websockets-sansio",
                                ws_max_size=ws_max_size, lifespan="on", proxy_headers=False)  # as bot.serve
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class ServeProcess(Loopback):
    """``python -m bot.serve`` on 127.0.0.1:<port> in its own process, with tests/ on its path (stand-in engines),
    logging to ``<data_dir>/<log_name>``; ``env`` adds to this process's environment (None removes a variable).
    Shared by the restart, multinode and load tests."""

    def __init__(self, data_dir: Path, env: dict[str, str | None], port: int | None = None,
                 log_name: str = "server.log") -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = env
        self.log_path = data_dir / log_name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: Callable[[dict[str, Any]], bool] = lambda body: True, timeout: float = 60) -> None:
        """Start and wait until ``/healthz`` answers 200 with a body ``ready`` accepts; raises with the log's tail."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in {**os.environ, **self.env}.items() if v is not None}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = httpx.get(f"{self.http}/healthz", timeout=2)
                if response.status_code == 200 and ready(response.json()):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server did not come up in {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown at all."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def terminate(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit status (None if it was not running)."""
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc = None

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.terminate(15)


# ---------------------------------------------------------------------------------------------- clients
class Shopper:
    """A websocket shopper speaking docs/protocol.md."""

    def __init__(self, base_ws: str, store_key: str = "demo", locale: str = "en-US",
                 conversation_id: str | None = None, token: str | None = None, last_seq: int = 0,
                 origin: str | None = None, headers: dict[str, str] | None = None) -> None:
        headers = {**(headers or {}), **({"Origin": origin} if origin else {})} or None
        self._cm = connect(f"{base_ws}/ws/shopper", additional_headers=headers, open_timeout=10,
                           max_size=4 * 1024 * 1024)
        self.conn: ClientConnection = self._cm.__enter__()
        self.conn.send(json.dumps({"type": "hello", "store_key": store_key, "conversation_id": conversation_id,
                                   "token": token, "locale": locale, "last_seq": last_seq}))
        self.welcome = self.recv()
        self.frames: list[dict[str, Any]] = []
        if self.welcome.get("type") == "welcome":
            self.conversation_id = self.welcome["conversation_id"]
            self.token = self.welcome["token"]

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        return json.loads(self.conn.recv(timeout=timeout))

    def send(self, frame: dict[str, Any] | str | bytes) -> None:
        self.conn.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    def say(self, text: str, client_id: str | None = None, **extra: Any) -> str:
        client_id = client_id or uuid.uuid4().hex
        self.send({"type": "message", "client_id": client_id, "text": text, **extra})
        return client_id

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """The first frame (already received or new) matching ``pred``; frames are remembered."""
        for frame in self.frames:
            if pred(frame):
                self.frames.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame; got {self.frames[-5:]}")
            frame = self.recv(timeout=remaining)
            if pred(frame):
                return frame
            self.frames.append(frame)

    def ack(self, client_id: str, timeout: float = 10.0) -> dict[str, Any]:
        return self.wait_for(lambda f: f.get("type") == "ack" and f.get("client_id") == client_id, timeout)

    def message_from(self, role: str, timeout: float = 10.0) -> dict[str, Any]:
        frame = self.wait_for(lambda f: f.get("type") == "message" and f["message"]["role"] == role, timeout)
        return frame["message"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def agent_connect(base_ws: str, token: str, **kwargs: Any) -> Any:
    """A context manager: ``/ws/agent`` with the ``auth`` first frame sent (docs/protocol.md)."""

    @contextlib.contextmanager
    def connected() -> Iterator[ClientConnection]:
        with connect(f"{base_ws}/ws/agent", open_timeout=10, **kwargs) as ws:
            ws.send(json.dumps({"type": "auth", "token": token}))
            yield ws

    return connected()


def login(base_http: str, username: str, password: str) -> str:
    r = httpx.post(f"{base_http}/api/auth/login", json={"username": username, "password": password}, timeout=10)
    r.raise_for_status()
    return r.json()["token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------------------------- PostgreSQL
def pg_bin_dir() -> Path | None:
    """Debian's PostgreSQL binaries (newest version), or whatever initdb is on PATH."""
    candidates = sorted(glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0)
    for path in reversed(candidates):
        if (Path(path) / "initdb").exists() and (Path(path) / "pg_ctl").exists():
            return Path(path)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PostgresCluster:
    """initdb + pg_ctl in a temp dir on 127.0.0.1:<free port>, as a non-root user when we are root."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="borderless-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self.user = name
                break
            if self.user is None:
                raise RuntimeError("running as root and no postgres/nobody user to run PostgreSQL as")
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        self._run("initdb", "-D", str(self.data), "-U", "borderless", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                "-c fsync=off -c max_connections=200 -c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "-t", "60",
                  "start")
        url = f"postgresql+psycopg://borderless@127.0.0.1:{self.port}/postgres"
        return url

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=borderless dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://borderless@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def postgres() -> Iterator[PostgresCluster | None]:
    """A running cluster, or None when no PostgreSQL binaries exist."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        yield None
        return
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


_cluster: PostgresCluster | None = None
_cluster_error: str | None = None


def shared_postgres() -> PostgresCluster | None:
    """One cluster for the whole test session (started on first use, stopped at exit); None without binaries."""
    global _cluster, _cluster_error
    if _cluster is not None or _cluster_error is not None:
        return _cluster
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        _cluster_error = "no PostgreSQL binaries"
        return None
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    import atexit

    atexit.register(cluster.stop)
    _cluster = cluster
    return cluster


def database_url_for(backend: str, data_dir: Path) -> str | None:
    """``None`` (SQLite under data_dir) or a fresh PostgreSQL database; skips when PG binaries are missing."""
    if backend == "sqlite":
        return None
    import pytest

    cluster = shared_postgres()
    if cluster is None:
        pytest.skip("no PostgreSQL binaries (apt-get install -y postgresql)")
    return cluster.create_database("t_" + uuid.uuid4().hex[:12])


# ---------------------------------------------------------------------------------------------- app + users
def make_app(data_dir: Path, engine: Any = None, **overrides: Any) -> Any:
    """``create_app`` on a fresh data dir with the fake engine (unless one is given)."""
    from bot.app import create_app

    return create_app(make_settings(data_dir, **overrides), engine=engine or FakeEngine(), preload_engine=False)


def add_user(app: Any, username: str, role: str = "agent", languages: str = "", name: str | None = None,
             password: str = "correct-horse") -> None:
    from bot.auth.service import create_user

    with app.state.db.session() as session:
        create_user(session, username, password, role=role, languages=languages, name=name, actor="test")


PASSWORD = "correct-horse"


def queued_conversation(app: Any, lang: str = "en", text: str = "I need a human", topic: str = "orders") -> str:
    """A conversation the bot handed off (straight through the services, no socket)."""
    chat = app.state.chat.chat
    opened = chat.open("demo", None, None, lang)
    stored = chat.add_shopper_message(opened.conversation_id, "c-" + uuid.uuid4().hex[:8], text)
    decision = Decision(lang=lang, intent="human_request", action="handoff", faq_id=None, confidence=0.9,
                        reason="human_request", reply="connecting you")
    chat.record_decision(opened.conversation_id, stored.message_id, decision, topic)
    return opened.conversation_id


def claim_race(base_http: str, tokens: list[str], conversation_ids: list[str]) -> dict[str, list[tuple[int, int]]]:
    """Every agent claims every conversation at once (own thread and HTTP client each, shuffled order).

    Returns conversation id -> [(agent index, status code)].
    """
    import random

    results: dict[str, list[tuple[int, int]]] = {cid: [] for cid in conversation_ids}
    lock = threading.Lock()
    barrier = threading.Barrier(len(tokens))
    errors: list[BaseException] = []

    def worker(index: int, token: str) -> None:
        order = list(conversation_ids)
        random.Random(index).shuffle(order)
        try:
            with httpx.Client(base_url=base_http, headers=auth(token), timeout=60) as client:
                barrier.wait(timeout=30)
                for cid in order:
                    r = client.post(f"/api/conversations/{cid}/claim")
                    with lock:
                        results[cid].append((index, r.status_code))
        except BaseException as exc:  # surfaced by the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, t)) for i, t in enumerate(tokens)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def check_single_owners(app: Any, results: dict[str, list[tuple[int, int]]], n_agents: int) -> None:
    """Each conversation: exactly one 200, the rest 409, one owner in the database, one 'agent joined'."""
    from sqlalchemy import func, select

    from bot.conversations.models import Conversation, Message
    from bot.handoff.models import Handoff

    for cid, outcomes in results.items():
        statuses = sorted(status for _, status in outcomes)
        assert len(outcomes) == n_agents, cid
        assert statuses == [200] + [409] * (n_agents - 1), (cid, statuses)
    with app.state.db.session() as session:
        for cid in results:
            conv = session.get(Conversation, cid)
            assert conv.state == "agent" and conv.agent_id is not None
            joined = session.scalar(select(func.count()).select_from(Message).where(
                Message.conversation_id == cid, Message.code == "agent_joined"))
            assert joined == 1, cid
            handoff = session.scalar(select(Handoff).where(Handoff.conversation_id == cid))
            assert handoff.agent_id == conv.agent_id and handoff.claimed_at is not None
