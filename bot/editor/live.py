"""Keeping running answer engines in step with the published knowledge base in the database.

    editor commit (kb_state.revision += 1, entry.published_revision = revision)
        └► sync_engine(engine, db): entries with published_revision > applied ─► engine.apply_changes(...)
              (right after the commit in this process; every POLL_SECONDS in every process, for other workers)

``build_engine`` is the server's default engine factory (``BORDERLESS_ENGINE_FACTORY``): it seeds the database
from ``knowledge_base/`` on the first start, builds the engine from the published entries (so edits survive a
restart), and starts the poller. An engine built elsewhere (tests pass one in) is compared with the database on
its first sync and rebuilt aside if it differs.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeGuard

from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from bot.db.session import Database
from bot.editor import content as C
from bot.editor import published, seeding, service
from bot.editor.errors import Invalid
from bot.knowledge.models import Entry, KnowledgeBase
from bot.nlu.base import LiveEngine
from bot.settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
PREWARM_CHUNK = 16
IDLE_EXIT_SECONDS = 30.0


def supports_live(engine: object) -> TypeGuard[LiveEngine]:
    """Whether ``engine`` can be updated in place (the real ``AnswerEngine``; stand-ins that only respond cannot)."""
    return isinstance(engine, LiveEngine)


def mark_built(engine: LiveEngine, db: Database, revision: int) -> None:
    """Record that ``engine`` was built from the published entries of ``db`` at ``revision``."""
    engine.knowledge_sync.applied[db.url] = revision


def _published(kb: KnowledgeBase) -> dict[str, Entry]:
    return {e.id: e for e in kb.published()}


def sync_engine(engine: object, db: Database) -> int:
    """Bring ``engine`` up to the database's published entries; returns how many entries changed.

    Idempotent and serialised per engine; cheap when nothing changed (one small query).
    """
    if not supports_live(engine):
        return 0
    state = engine.knowledge_sync
    with state.lock:
        applied = state.applied.get(db.url)
        if applied is None:
            with db.session() as session:
                kb, revision = published.published_kb(session)
            if _published(engine.kb) == _published(kb):
                state.applied[db.url] = revision
                return 0
            log.info("the engine's knowledge base differs from the database; rebuilding it aside")
            engine.swap_knowledge(kb)
            state.applied[db.url] = revision
            return len(kb.entries)
        with db.session() as session:
            changes, revision = published.changes_since(session, applied)
        if changes:
            engine.apply_changes(changes)
        state.applied[db.url] = revision
        return len(changes)


def applied_revision(engine: object, db: Database) -> int | None:
    return engine.knowledge_sync.applied.get(db.url) if supports_live(engine) else None


def _poll(ref: weakref.ReferenceType[Any], db: Database, interval: float) -> None:
    failures = 0
    while True:
        time.sleep(interval)
        engine = ref()
        if engine is None:
            break
        try:
            sync_engine(engine, db)
            failures = 0
        except Exception as exc:  # keep serving from the last good state
            failures += 1
            log.warning("knowledge base sync failed (%d in a row): %s", failures, exc)
            if failures >= 30:
                log.error("giving up polling the knowledge base")
                break
        finally:
            del engine
    db.dispose()


def start_poller(engine: Any, db: Database, interval: float = POLL_SECONDS) -> threading.Thread:
    """Follow the database in the background (other server processes publish too); stops with the engine."""
    thread = threading.Thread(target=_poll, args=(weakref.ref(engine), db, interval), name="kb-poll", daemon=True)
    thread.start()
    return thread


def build_engine(settings: Settings) -> Any:
    """The server's engine factory: the answer engine over the database's published entries.

    Seeds the database from ``settings.kb_path`` on the first start. Without the knowledge tables (a database
    not migrated yet) it falls back to the files.
    """
    from bot.db.migrate import startup_lock
    from bot.nlu import pipeline

    db = Database.from_settings(settings)
    try:
        with startup_lock(db.engine, "borderless-kb-seed"):  # several processes may start at once
            seeding.ensure_seeded(db.session, settings)
        with db.session() as session:
            kb, revision = published.published_kb(session)
    except (OperationalError, ProgrammingError) as exc:
        log.warning("no knowledge tables in the database (%s); answering from %s", exc, settings.kb_path)
        db.dispose()
        return pipeline.build_engine(settings)
    engine = pipeline.build_engine(settings, kb=kb)
    mark_built(engine, db, revision)
    sync_engine(engine, db)  # whatever was published while we were building
    start_poller(engine, db)
    log.info("answer engine built from %d published entries (revision %d)", len(kb.entries), revision)
    return engine


def install(app: Any) -> None:
    """Give ``app`` its editor handle (``app.state.knowledge``); called by :func:`bot.app.create_app`."""
    app.state.knowledge = KnowledgeLive(app.state.db, app.state.settings)


class KnowledgeLive:
    """The editor's handle on one app: its database, its engine (once built) and a background embedder.

    Kept on ``app.state.knowledge``, created with the app (:func:`install`).
    """

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.engine: LiveEngine | None = None
        self._seeded = False
        self._lock = threading.Lock()
        self._prewarm: queue.Queue[list[str]] = queue.Queue()
        self._prewarm_thread: threading.Thread | None = None
        #: called after a commit changed the knowledge base, so other server processes update now
        #: (bot.app pushes the revision through the relay); their poller is the fallback
        self.announce: Callable[[], None] | None = None

    @classmethod
    def of(cls, app: Any) -> KnowledgeLive:
        live: KnowledgeLive = app.state.knowledge
        return live

    def ensure_seeded(self) -> None:
        if not self._seeded:
            with self._lock:
                if not self._seeded:
                    seeding.ensure_seeded(self.db.session, self.settings)
                    self._seeded = True

    def attach(self, engine: object) -> None:
        """Use ``engine`` from now on (the chat's engine, once it is built)."""
        if engine is not self.engine and supports_live(engine):
            self.engine = engine

    def sync(self) -> int:
        """Apply committed changes to the engine now (no-op without an engine: it syncs when built), and
        announce them to other server processes."""
        changed = 0
        if self.engine is not None:
            try:
                changed = sync_engine(self.engine, self.db)
            except Exception:
                log.exception("could not update the live knowledge base; the poller will retry")
        if self.announce is not None and (changed or self.engine is None):
            try:
                self.announce()
            except Exception:
                log.warning("could not announce the knowledge base change", exc_info=True)
        return changed

    def status(self) -> dict[str, Any]:
        with self.db.session() as session:
            revision = service.current_revision(session)
        out: dict[str, Any] = {"revision": revision, "engine": "ready" if self.engine is not None else "not ready"}
        if self.engine is not None:
            out.update(self.engine.knowledge_status())
            out["applied_revision"] = applied_revision(self.engine, self.db)
        return out

    # ------------------------------------------------------------------ background embedding
    def prewarm(self, texts: Sequence[str]) -> None:
        """Embed ``texts`` in the background so that publishing them later only touches the index."""
        if self.engine is None or not texts:
            return
        self._prewarm.put(list(texts))
        with self._lock:
            if self._prewarm_thread is None or not self._prewarm_thread.is_alive():
                self._prewarm_thread = threading.Thread(target=self._prewarm_loop, name="kb-prewarm", daemon=True)
                self._prewarm_thread.start()

    def _prewarm_loop(self) -> None:
        while True:
            try:
                texts = self._prewarm.get(timeout=IDLE_EXIT_SECONDS)
            except queue.Empty:
                return
            engine = self.engine
            if engine is None:
                continue
            for start in range(0, len(texts), PREWARM_CHUNK):  # small chunks: shoppers' queries share the model
                try:
                    engine.embedder.embed_passages(texts[start : start + PREWARM_CHUNK])
                except Exception:
                    log.exception("background embedding failed")
                    break


# ---------------------------------------------------------------------------------------------- test your change
def decision_json(decision: Any) -> dict[str, Any]:
    """A decision with the internals an editor wants to see (candidates, intent confidence)."""
    return {
        **decision.to_json(),
        "reply_lang": decision.reply_lang,
        "intent_confidence": round(float(decision.intent_confidence), 4),
        "candidates": decision.candidates,
    }


def preview(session: Session, engine: LiveEngine, text: str, locale: str | None,
            draft: tuple[str, object, object] | None = None, scope: str = "all") -> dict[str, Any]:
    """What the bot does with ``text`` now (published) and with the drafts, side by side; nothing goes live.

    ``scope='all'``: every entry's working copy replaces its published copy; ``'entry'``: only ``draft`` (the
    edit form's content, saved or not) does. The intent classifier is the live one in both columns.
    """
    from bot.nlu.base import ConversationContext

    changes: dict[str, Entry | None] = published.working_entries(session) if scope == "all" else {}
    if draft is not None:
        entry_id, topic, locales = draft
        try:
            entry_id = C.check_id(entry_id)
        except C.ContentError as exc:
            raise Invalid(str(exc), problems=exc.problems) from None
        topic_s, locs = service.parse_content(topic, locales)
        usable = {loc: c for loc, c in locs.items() if c.questions}
        changes[entry_id] = C.to_entry(entry_id, topic_s, usable) if usable else None
    snapshot = engine.snapshot()
    try:
        live = engine.with_state(snapshot).respond(text, ConversationContext(locale_hint=locale))
        drafted = engine.preview(changes, base=snapshot).respond(text, ConversationContext(locale_hint=locale))
    except ValueError as exc:  # InvalidMessage: empty or too long
        raise Invalid(str(exc)) from None
    return {"text": text, "published": decision_json(live), "draft": decision_json(drafted),
            "draft_entries": sorted(changes), "same": live.to_json() == drafted.to_json()}
