"""``/editor`` (the page) and ``/api/editor/...``: the FAQ editor's API, for roles editor and admin.

Changing an entry needs the version it was based on: ``If-Match: "<version>"`` (the ``ETag`` of GET) or
``"version"`` in the body. A stale version answers 409 ``version_conflict``; a missing one 428. Publishing,
unpublishing, deleting and importing with ``publish=true`` update the running engine before they answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.auth.deps import require_role
from bot.auth.service import Principal
from bot.db.types import utcnow
from bot.editor import content as C
from bot.editor import formats as F
from bot.editor import missed, reads, service, transfer
from bot.editor.live import KnowledgeLive, install, supports_live  # noqa: F401  (install: create_app calls it)
from bot.editor.live import preview as preview_decisions
from bot.editor.models import KbEntry
from bot.editor.schemas import (
    CompletenessOut,
    DismissedOut,
    EntryCreate,
    EntryListOut,
    EntryOut,
    EntrySummaryOut,
    EntryUpdate,
    MissedGroupOut,
    MissedIds,
    MissedToEntry,
    MissedToVariants,
    PreviewBody,
    PreviewOut,
    RestoreBody,
    StatusOut,
    VersionBody,
    VersionOut,
)
from bot.events import Audited, emit
from bot.nlu.index import aggregate
from bot.nlu.lint import warnings_for

log = logging.getLogger(__name__)
router = APIRouter(tags=["editor"])

STATIC_DIR = FsPath(__file__).resolve().parents[1] / "web" / "static"
Editor = Annotated[Principal, Depends(require_role("editor", "admin"))]
EntryId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


async def get_live(request: Request) -> KnowledgeLive:
    """The app's :class:`KnowledgeLive`, seeded, attached to the chat's engine once that is built."""
    live = KnowledgeLive.of(request.app)
    await run_in_threadpool(live.ensure_seeded)
    provider = request.app.state.engine_provider
    if live.engine is None and provider.status == "ready":
        live.attach(await provider.get())
        await run_in_threadpool(live.sync)
    return live


async def get_engine(request: Request, live: Annotated[KnowledgeLive, Depends(get_live)]) -> Any:
    """The live answer engine (waits for it to be built); 503 if it cannot answer previews."""
    try:
        engine = await request.app.state.engine_provider.get()
    except Exception as exc:
        raise HTTPException(503, detail={"code": "engine_unavailable", "message": str(exc)}) from None
    if not supports_live(engine):
        raise HTTPException(503, detail={"code": "engine_unavailable", "message": "this engine cannot preview"})
    live.attach(engine)
    return engine


Live = Annotated[KnowledgeLive, Depends(get_live)]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except service.EditorError as exc:
        raise HTTPException(exc.status, detail=exc.to_json()) from None


def _actor(user: Principal) -> service.Actor:
    return service.Actor(user.id, user.username)


def _version(if_match: str | None, body_version: int | None) -> int | None:
    """The base version from ``If-Match`` (``"3"``, ``W/"3"`` or ``3``) or the body."""
    if if_match:
        value = if_match.strip().removeprefix("W/").strip('"')
        if not value.isdigit():
            raise HTTPException(400, detail={"code": "bad_if_match", "message": 'If-Match must look like "3"'})
        return int(value)
    return body_version


def _entry_response(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={"ETag": f'"{body["version"]}"'})


def _texts(row: KbEntry) -> list[str]:
    return [q for c in (row.content.get("locales") or {}).values() for q in c.get("questions") or []]


def _audited(user: Principal, action: str, op: Callable[..., KbEntry]) -> Callable[..., KbEntry]:
    """``op`` that also leaves an audit-log entry (``bot.audit`` listens) in the same transaction."""

    def run(session: Any, actor: Any, entry_id: str, *rest: Any) -> KbEntry:
        row = op(session, actor, entry_id, *rest)
        emit(session, Audited(at=utcnow(), username=user.username, user_id=user.id, action=action,
                              subject=f"entry:{entry_id}", detail={"version": row.version}))
        return row

    return run


def _change(live: KnowledgeLive, op: Callable[..., KbEntry], *args: Any, status_code: int = 200,
            lint: bool = False) -> JSONResponse:
    """Run one entry operation in a transaction; after the commit, update the engine and pre-embed the text.
    ``lint``: add the knowledge-base lint's ``warnings`` for the saved working copy (see bot/nlu/lint.py)."""
    with _errors(), live.db.session() as session:
        row = op(session, *args)
        body = service.entry_json(row)
        texts = _texts(row)
        saved = C.to_entry(row.id, row.topic, C.locales_from_json(row.content)) if lint else None
    live.sync()
    live.prewarm(texts)
    if saved is not None:
        body["warnings"] = warnings_for([saved], live.engine)
    return _entry_response(body, status_code)


# ---------------------------------------------------------------------------------------------- page
@router.get("/editor", include_in_schema=False)
def editor_page() -> FileResponse:
    path = STATIC_DIR / "editor.html"
    if not path.is_file():
        raise HTTPException(404, detail={"code": "not_found", "message": "editor.html is not installed."})
    return FileResponse(path, media_type="text/html")


# ---------------------------------------------------------------------------------------------- entries
@router.get("/api/editor/status", response_model=StatusOut)
def status(live: Live, _user: Editor) -> dict[str, Any]:
    """The knowledge base revision and the live engine's size and freshness."""
    live.sync()
    return live.status()


@router.get("/api/editor/entries", response_model=EntryListOut)
def list_entries(
    live: Live,
    _user: Editor,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[Literal["draft", "published", "changed"] | None, Query()] = None,
    missing: Annotated[str | None, Query(max_length=16, description="only entries lacking this locale")] = None,
    sort: Annotated[Literal["id", "updated"], Query()] = "id",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Search entries (id, topic, answers and questions in every language; case and accents ignored)."""
    with live.db.session() as session:
        return reads.list_entries(session, q, status, missing, limit, offset, sort)


@router.post("/api/editor/entries", status_code=201, response_model=EntryOut)
def create_entry(body: EntryCreate, live: Live, user: Editor) -> JSONResponse:
    """A new draft entry (not visible to shoppers until published)."""
    return _change(live, service.create_entry, _actor(user), body.id, body.topic,
                   {k: v.model_dump() for k, v in body.locales.items()}, status_code=201, lint=True)


@router.get("/api/editor/entries/{entry_id}", response_model=EntryOut)
def get_entry(entry_id: EntryId, live: Live, _user: Editor) -> JSONResponse:
    """The entry's working copy, published copy and status; ``ETag`` is its version."""
    with _errors(), live.db.session() as session:
        return _entry_response(reads.get_entry(session, entry_id))


@router.put("/api/editor/entries/{entry_id}", response_model=EntryOut)
def update_entry(entry_id: EntryId, body: EntryUpdate, live: Live, user: Editor, if_match: IfMatch = None,
                 ) -> JSONResponse:
    """Replace the working copy (topic and every locale). Shoppers see it once it is published."""
    return _change(live, service.update_entry, _actor(user), entry_id, _version(if_match, body.version), body.topic,
                   {k: v.model_dump() for k, v in body.locales.items()}, lint=True)


@router.delete("/api/editor/entries/{entry_id}", response_model=EntryOut)
def delete_entry(entry_id: EntryId, live: Live, user: Editor, if_match: IfMatch = None,
                 version: Annotated[int | None, Query()] = None) -> JSONResponse:
    """Delete and unpublish; the history stays, so a version can be restored."""
    return _change(live, service.delete_entry, _actor(user), entry_id, _version(if_match, version))


@router.post("/api/editor/entries/{entry_id}/publish", response_model=EntryOut)
def publish_entry(entry_id: EntryId, live: Live, user: Editor, if_match: IfMatch = None,
                  body: VersionBody | None = None) -> JSONResponse:
    """Make the working copy live (the running engine is updated before this answers)."""
    return _change(live, _audited(user, "kb_publish", service.publish_entry), _actor(user), entry_id,
                   _version(if_match, body.version if body else None))


@router.post("/api/editor/entries/{entry_id}/unpublish", response_model=EntryOut)
def unpublish_entry(entry_id: EntryId, live: Live, user: Editor, if_match: IfMatch = None,
                    body: VersionBody | None = None) -> JSONResponse:
    """Take the entry away from shoppers; its working copy stays as a draft."""
    return _change(live, _audited(user, "kb_unpublish", service.unpublish_entry), _actor(user), entry_id,
                   _version(if_match, body.version if body else None))


@router.get("/api/editor/entries/{entry_id}/versions", response_model=list[VersionOut])
def entry_history(entry_id: EntryId, live: Live, _user: Editor) -> list[dict[str, Any]]:
    """Every version, newest first: who, when, what changed."""
    with _errors(), live.db.session() as session:
        return reads.history(session, entry_id)


@router.get("/api/editor/entries/{entry_id}/versions/{version}", response_model=VersionOut)
def entry_version(entry_id: EntryId, version: int, live: Live, _user: Editor) -> dict[str, Any]:
    """One version's snapshot."""
    with _errors(), live.db.session() as session:
        return reads.get_version(session, entry_id, version)


@router.post("/api/editor/entries/{entry_id}/restore", response_model=EntryOut)
def restore_entry(entry_id: EntryId, body: RestoreBody, live: Live, user: Editor, if_match: IfMatch = None,
                  ) -> JSONResponse:
    """Bring back an earlier version as the working copy (also undeletes); publish to make it live."""
    return _change(live, service.restore_version, _actor(user), entry_id, body.restore,
                   _version(if_match, body.version))


@router.get("/api/editor/deleted", response_model=list[EntrySummaryOut])
def deleted_entries(live: Live, _user: Editor) -> list[dict[str, Any]]:
    """Deleted entries (restore one of their versions to bring them back)."""
    with live.db.session() as session:
        return reads.deleted_entries(session)


@router.get("/api/editor/completeness", response_model=CompletenessOut)
def completeness(live: Live, _user: Editor) -> dict[str, Any]:
    """Entries x locales: which entries lack which languages (and which answers are incomplete)."""
    with live.db.session() as session:
        return reads.completeness(session)


# ---------------------------------------------------------------------------------------------- import / export
@router.post("/api/editor/import")
async def import_entries(
    request: Request,
    live: Live,
    user: Editor,
    fmt: Annotated[Literal["csv", "json"] | None, Query(alias="format", description="default: Content-Type")] = None,
    publish: Annotated[bool, Query(description="also publish every imported entry")] = False,
) -> dict[str, Any]:
    """Import CSV (``id,locale,question,answer[,topic]``) or JSON (``{"entries": [...]}``, as exported).

    The whole file is checked first: any bad line refuses the import (422 with each line and reason) and
    nothing is written. Otherwise everything is written in one transaction.
    """
    data = await request.body()
    fmt = fmt or ("json" if "json" in (request.headers.get("content-type") or "") else "csv")

    def run() -> dict[str, Any]:
        with _errors():
            entries = transfer.parse_upload(data, fmt)
            with live.db.session() as session:
                summary = transfer.import_entries(session, _actor(user), entries, publish=publish)
                emit(session, Audited(at=utcnow(), username=user.username, user_id=user.id, action="kb_import",
                                      subject=f"{len(entries)} entries", detail={"format": fmt, "publish": publish}))
        live.sync()
        live.prewarm([q for e in entries for c in e.locales.values() for q in c.questions])
        lines = {(e.id, loc): e.lines.get(loc, e.line) for e in entries for loc in e.locales}
        summary["warnings"] = [
            {**w, "line": lines.get((w["entry_id"], w["locale"]))}
            for w in warnings_for([C.to_entry(e.id, e.topic or "general", e.locales) for e in entries], live.engine)
        ]
        return summary

    return await run_in_threadpool(run)


@router.get("/api/editor/export", responses={200: {"description": "The entries as a file download",
                                                   "content": {"text/csv": {}, "application/json": {}}}})
def export_entries(
    live: Live,
    _user: Editor,
    fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "json",
    which: Annotated[Literal["working", "published"], Query()] = "working",
) -> Response:
    """Download every entry (working copies, or what shoppers get) as CSV or JSON."""
    with live.db.session() as session:
        entries = transfer.export_entries(session, which)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        body, media = F.export_csv(entries), "text/csv; charset=utf-8"
    else:
        body, media = F.export_json(entries), "application/json"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="knowledge-{which}-{stamp}.{fmt}"'})


# ---------------------------------------------------------------------------------------------- missed questions
@router.get("/api/editor/missed/groups", response_model=list[MissedGroupOut])
async def missed_groups(
    request: Request,
    live: Live,
    _user: Editor,
    threshold: Annotated[float, Query(ge=0.5, le=1.0)] = missed.GROUP_THRESHOLD,
    status: Annotated[Literal["open", "resolved", "dismissed"], Query()] = "open",
) -> list[dict[str, Any]]:
    """Missed questions grouped by meaning across languages: counts, languages, examples, agents' answers."""
    engine = live.engine
    if engine is None and request.app.state.engine_provider.status == "ready":
        engine = await request.app.state.engine_provider.get()
    embed = engine.embedder.embed_passages if engine is not None and supports_live(engine) else None

    def nearest(vector: Any) -> tuple[str, float] | None:
        found = aggregate(engine.snapshot().index.search(vector, k=10)) if engine is not None else []
        return (found[0].faq_id, found[0].score) if found else None

    def run() -> list[dict[str, Any]]:
        with live.db.session() as session:
            return missed.missed_groups(session, embed, nearest if embed else None, threshold, status)

    return await run_in_threadpool(run)


@router.post("/api/editor/missed/to-entry", status_code=201, response_model=EntryOut)
def missed_to_entry(body: MissedToEntry, live: Live, user: Editor) -> JSONResponse:
    """Turn a group into a new draft entry (questions per language; agents' answers as draft answers)."""
    return _change(live, missed.missed_to_entry, _actor(user), body.missed_ids, body.id, body.topic, body.answers,
                   status_code=201)


@router.post("/api/editor/missed/to-variants", response_model=EntryOut)
def missed_to_variants(body: MissedToVariants, live: Live, user: Editor, if_match: IfMatch = None) -> JSONResponse:
    """Add a group's questions as variants of an existing entry (its working copy; publish to go live)."""
    return _change(live, missed.missed_to_variants, _actor(user), body.missed_ids, body.entry_id,
                   _version(if_match, body.version))


@router.post("/api/editor/missed/dismiss", response_model=DismissedOut)
def dismiss_missed(body: MissedIds, live: Live, user: Editor) -> dict[str, int]:
    """Drop missed questions that need no entry (spam, one-offs)."""
    with _errors(), live.db.session() as session:
        return {"dismissed": missed.dismiss_missed(session, _actor(user), body.missed_ids)}


# ---------------------------------------------------------------------------------------------- test your change
@router.post("/api/editor/preview", response_model=PreviewOut)
def preview(body: PreviewBody, live: Live, _user: Editor, engine: Annotated[Any, Depends(get_engine)],
            ) -> dict[str, Any]:
    """What the bot would answer with the drafts and with what is live, side by side (nothing goes live)."""
    draft = None
    if body.entry is not None:
        draft = (body.entry.id, body.entry.topic, {k: v.model_dump() for k, v in body.entry.locales.items()})
    with _errors(), live.db.session() as session:
        return preview_decisions(session, engine, body.text, body.locale, draft, body.scope)
