"""Engine and session factory built from settings: SQLite under ``data_dir`` by default, any SQLAlchemy URL otherwise.

SQLite runs in WAL mode with ``synchronous=FULL`` by default (a commit survives a process kill and a power cut;
``BORDERLESS_SQLITE_SYNCHRONOUS=NORMAL`` halves the write cost and still survives a process kill) and every
transaction that may write starts with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead
of failing on a read-to-write lock upgrade; ``Database.read()`` sessions use a plain ``BEGIN`` (WAL readers never
block). PostgreSQL runs at READ COMMITTED; the services rely only on single-statement
conditional updates and unique constraints, which behave the same on both.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.events.bus import EventBus, take_pending
from bot.settings import Settings

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    """The configured URL, or the SQLite file ``data_dir/borderless.db``."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith(("postgresql://", "postgres://")):
            # psycopg 3 is the driver we ship; plain postgresql:// would pick psycopg2.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.data_dir / 'borderless.db').resolve()}"


def make_engine(url: str, sqlite_synchronous: str = "FULL", **kwargs: Any) -> Engine:
    """An engine with the connection setup both backends need."""
    if sqlite_synchronous not in ("FULL", "NORMAL"):
        raise ValueError("sqlite_synchronous must be FULL or NORMAL")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted rows are overwritten with zeros, so erased content leaves the file (docs/privacy.md).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Reads (Database.read) need no write lock; everything else takes it up front.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """One engine plus its session factory; the app keeps one on ``app.state.db``."""

    def __init__(self, url: str, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.engine = make_engine(url, sqlite_synchronous)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.RLock()
        #: Domain events emitted in committed transactions go here (listeners are registered at app start).
        self.events = EventBus()
        self._local = threading.local()
        self.read_sessions: sessionmaker[Session] = sessionmaker(
            self.engine.execution_options(read_only=True), expire_on_commit=False
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(database_url(settings), settings.sqlite_synchronous)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error.

        On SQLite, writers of this process queue on a lock first: SQLite's own busy handler sleeps in
        growing steps (up to 100 ms) while waiting, which would turn contention into latency spikes.
        """
        lock = self._write_lock if self.is_sqlite else contextlib.nullcontext()
        local = self._local
        local.depth = getattr(local, "depth", 0) + 1
        if local.depth == 1:
            local.committed = []
        try:
            with lock, self.sessions() as session:
                with session.begin():
                    yield session
                local.committed.extend(take_pending(session))  # reached only when the commit succeeded
        finally:
            local.depth -= 1
        # Dispatch after the outermost session of this thread is over: the write lock is free again, so
        # listeners can open their own transactions.
        if local.depth == 0 and local.committed:
            events, local.committed = local.committed, []
            self.events.dispatch(events)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it does not take the write lock (do not write in it)."""
        with self.read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def get_db(request: Request) -> Database:
    """FastAPI dependency: the app's :class:`Database`."""
    return request.app.state.db


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a session in a transaction, committed when the endpoint returns without error."""
    db: Database = request.app.state.db
    with db.session() as session:
        yield session
