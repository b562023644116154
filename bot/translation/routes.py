"""``/api/translation``: the pairs the chat can translate (console, admin page) and re-reading them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from bot.auth.deps import AdminUser, AgentUser

router = APIRouter(prefix="/api/translation", tags=["translation"])


class PairOut(BaseModel):
    source: str
    target: str
    engine: str
    via: str | None


class PairsOut(BaseModel):
    translator: str
    pairs: list[PairOut]
    cache: dict[str, int]


def pairs_json(request: Request) -> dict[str, Any]:
    service = request.app.state.chat.translator
    return {
        "translator": request.app.state.settings.translator,
        "pairs": [p.to_json() for p in service.pairs()],
        "cache": {"hits": service.hits, "misses": service.misses},
    }


@router.get("/pairs", response_model=PairsOut)
async def get_pairs(request: Request, _user: AgentUser) -> dict[str, Any]:
    """Every language pair the chat translates, with its backend (``via: "en"``: pivoting through English)."""
    return await run_in_threadpool(pairs_json, request)


@router.post("/refresh", response_model=PairsOut)
async def refresh(request: Request, _user: AdminUser) -> dict[str, Any]:
    """Re-read the installed pairs (after ``borderless translate install``) without a restart."""
    await run_in_threadpool(request.app.state.chat.translator.refresh)
    return await run_in_threadpool(pairs_json, request)


# ---------------------------------------------------------------------------------------------- editor
# In this module (not bot/editor/routes.py) so the editor's own files stay as they are; same helpers and rules.
from bot.editor import routes as editor_routes  # noqa: E402
from bot.editor import service as editor_service  # noqa: E402
from bot.translation import editor as machine  # noqa: E402

editor_router = APIRouter(tags=["editor"])


class MachineTranslateBody(BaseModel):
    locales: list[str] | None = None
    version: int | None = None


@editor_router.get("/api/editor/entries/{entry_id}/machine-translations")
def machine_translations(entry_id: editor_routes.EntryId, live: editor_routes.Live,
                         _user: editor_routes.Editor) -> list[dict[str, Any]]:
    """The entry's machine-translated locales; ``stale``: its source answer changed since; ``edited``: an editor
    rewrote the machine text."""
    with editor_routes._errors(), live.db.read() as session:
        return machine.status(session, entry_id)


@editor_router.post("/api/editor/entries/{entry_id}/machine-translate")
def machine_translate(entry_id: editor_routes.EntryId, request: Request, live: editor_routes.Live,
                      user: editor_routes.Editor, body: MachineTranslateBody | None = None,
                      if_match: editor_routes.IfMatch = None) -> Any:
    """Fill the entry's missing languages (or ``locales``) by machine translation, as an unpublished edit of its
    working copy: an editor reviews and publishes. Needs the entry's version (If-Match), like any edit."""
    body = body or MachineTranslateBody()
    version = editor_routes._version(if_match, body.version)
    translator = request.app.state.chat.translator
    with editor_routes._errors():
        with live.db.read() as session:
            source, locales, missing = machine.plan(session, entry_id, translator, body.locales)
        if source is None:
            raise editor_service.EditorError("the entry has no answer to translate from")
        filled, engines, failed = machine.translate_locales(translator, source, locales[source], missing)
        with live.db.session() as session:
            row = machine.fill_missing(session, editor_routes._actor(user), entry_id, version, source,
                                       locales[source].answer, filled, engines)
            out = editor_service.entry_json(row)
            out["machine_translations"] = machine.status(session, entry_id)
    live.sync()
    out["machine_translated"] = sorted(filled)
    out["failed"] = failed
    return editor_routes._entry_response(out)
