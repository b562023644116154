"""The Borderless web app: widget, agent console, demo store page, websockets and the REST API.

``create_app(settings)`` builds everything from settings: it brings the database schema to head (Alembic),
creates first-run accounts, and wires the realtime relay and the answer engine. See docs/deploy.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from bot import __version__
from bot.auth.deps import lookup_principal
from bot.auth.presence import AgentPresence
from bot.auth.routes import router as auth_router
from bot.auth.service import bootstrap
from bot.auth.throttle import LoginThrottle
from bot.conversations.engine import EngineProvider, Responder
from bot.conversations.routes import router as conversations_router
from bot.conversations.runtime import ChatRuntime
from bot.conversations.texts import supported_locale, ui_bundle
from bot.conversations.ws import router as ws_router
from bot.db import migrate
from bot.db.listeners import present_modules, register_listeners
from bot.db.session import Database
from bot.handoff.routes import router as queue_router
from bot.handoff.service import HandoffService
from bot.i18n import RTL_LANGUAGES
from bot.metrics import CONTENT_TYPE_LATEST, ChatMetrics
from bot.nlu.base import SUPPORTED_LOCALES
from bot.privacy.redact import Redactor, install_log_redaction
from bot.privacy.retention import retention_loop
from bot.realtime.pubsub import create_pubsub
from bot.settings import REPO_ROOT, Settings, get_settings
from bot.translation.chat import ChatTranslation
from bot.translation.service import TranslationService
from bot.web import access_log
from bot.web.clients import ForwardedClientMiddleware
from bot.web.errors import ERROR_RESPONSES, install_error_handlers
from bot.web.guards import BodyLimitMiddleware, JsonUnicodeMiddleware, SecurityHeadersMiddleware

log = logging.getLogger(__name__)

WIDGET_DIR = REPO_ROOT / "widget"
STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"
#: Routers of domains added later; included when the module exists.
OPTIONAL_ROUTERS: tuple[str, ...] = ("bot.editor.routes", "bot.translation.routes", "bot.reports.routes",
                                     "bot.privacy.routes", "bot.audit.routes")
PAGES = {"/console": "console.html", "/demo": "demo.html", "/reports": "reports.html", "/users": "users.html"}

KB_CHANNEL = "kb"  # knowledge-base revision pushes between server processes
REDIS_CONNECT_SECONDS = 3.0


async def _follow_knowledge(app: FastAPI) -> None:
    """Apply knowledge-base changes announced by other processes as soon as they are announced."""
    from bot.editor.live import sync_engine

    runtime: ChatRuntime = app.state.chat
    sub = await runtime.bus.subscribe([KB_CHANNEL])
    try:
        while True:
            await sub.get()  # a change, or a resync after a relay outage: either way compare with the database
            engine = getattr(runtime.engine_provider, "_engine", None)
            if engine is not None:
                try:
                    changed = await run_in_threadpool(sync_engine, engine, runtime.db)
                    if changed:
                        log.info("knowledge base: %d entries updated (pushed by another process)", changed)
                except Exception as exc:  # the poller retries
                    log.warning("knowledge base update failed: %s", exc)
    finally:
        await sub.close()


def _page(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if not path.is_file():
        raise HTTPException(404, detail={"code": "not_found", "message": f"{name} is not installed."})
    return FileResponse(path, media_type="text/html")


def _page_endpoint(name: str) -> Any:
    def endpoint() -> FileResponse:
        return _page(name)

    endpoint.__name__ = f"page_{name.split('.')[0]}"
    return endpoint


def create_app(
    settings: Settings | None = None,
    *,
    engine: Responder | None = None,
    migrate_db: bool = True,
    preload_engine: bool = True,
) -> FastAPI:
    """Build the app. ``engine``: an answer engine to use (tests); otherwise built from ``settings.engine_factory``
    in the background at startup (``preload_engine``) or on the first message."""
    settings = settings or get_settings()
    access_log.install()  # no credential in a logged URL, whoever configures logging later
    db = Database.from_settings(settings)
    register_listeners(db)  # first: the first-run accounts below are audited
    if migrate_db:
        with migrate.startup_lock(db.engine):  # several processes may start at once on one database
            migrate.upgrade(db.engine)
            with db.session() as session:
                bootstrap(session, settings)
    bus = create_pubsub(settings.pubsub_url, settings.redis_url)
    provider = EngineProvider(settings, engine)
    redactor = Redactor.from_settings(settings.redact_patterns, settings.redact_allow)
    install_log_redaction(redactor)
    translator = TranslationService.from_settings(settings)
    presence = AgentPresence.from_settings(settings)
    runtime = ChatRuntime(settings, db, bus, provider, HandoffService(db, settings, translator, presence), translator,
                          ChatTranslation(translator, settings.default_locale), redactor.redact)
    runtime.presence = presence
    metrics = runtime.metrics = ChatMetrics(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        preload: asyncio.Task[Any] | None = None
        # List the translation pairs now, in a thread (Argos takes seconds to import), rather than on the first
        # queue or handoff, which would wait for it.
        pairs = asyncio.create_task(asyncio.to_thread(runtime.translator.pairs))
        pairs.add_done_callback(lambda t: t.cancelled() or t.exception())  # failures are logged by pairs()
        if preload_engine and engine is None:
            preload = asyncio.create_task(provider.get())
            preload.add_done_callback(lambda t: t.cancelled() or t.exception())  # logged by the provider
        follower: asyncio.Task[None] | None = None
        if hasattr(bus, "wait_connected"):
            if not await bus.wait_connected(REDIS_CONNECT_SECONDS):
                log.warning("Redis at BORDERLESS_REDIS_URL is unreachable; serving with database polling")
            follower = asyncio.create_task(_follow_knowledge(app))
            loop = asyncio.get_running_loop()
            app.state.announce_kb = lambda: asyncio.run_coroutine_threadsafe(
                bus.publish(KB_CHANNEL, {"kb": "changed"}), loop)
            live = getattr(app.state, "knowledge", None)
            if live is not None:
                live.announce = app.state.announce_kb
        retention = (asyncio.create_task(retention_loop(db, settings))
                     if settings.retention_days or settings.retention_bot_only_days else None)
        try:
            yield
        finally:
            if retention is not None:
                retention.cancel()
            if preload is not None and not preload.done():
                preload.cancel()
            if follower is not None:
                follower.cancel()
            await runtime.drain(settings.shutdown_grace_seconds)
            provider.close()
            runtime.translator.close()
            await bus.close()
            presence.close()
            if runtime.limits.shared is not None:
                await runtime.limits.shared.aclose()
            db.dispose()

    app = FastAPI(
        title="Borderless",
        version=__version__,
        summary="Multilingual support chat: shopper widget, agent console, handoff queue.",
        description="Websocket protocol and REST API: see docs/protocol.md.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.bus = bus
    app.state.engine_provider = provider
    app.state.chat = runtime
    app.state.presence = presence
    app.state.metrics = metrics
    app.state.announce_kb = None
    app.state.login_throttle = LoginThrottle.from_settings(settings)
    install_error_handlers(app)
    # Added innermost first: a request meets the client address, then the headers, the body limit, the
    # Unicode check, then the routes.
    app.add_middleware(JsonUnicodeMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_body=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ForwardedClientMiddleware)

    app.include_router(auth_router)
    app.include_router(queue_router)
    app.include_router(conversations_router)
    app.include_router(ws_router)
    for module in present_modules(OPTIONAL_ROUTERS):
        app.include_router(module.router)
        if hasattr(module, "editor_router"):
            app.include_router(module.editor_router)
        install = getattr(module, "install", None)  # state the domain keeps on the app, created here, not lazily
        if install is not None:
            install(app)

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, Any]:
        """Liveness: the database answers; ``engine`` is ready, loading, idle or failed."""

        def ping() -> None:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
            database = "ok"
        except Exception as exc:  # report, don't crash the probe
            log.warning("healthz: database check failed: %s", exc)
            database = "error"
        try:
            pairs = [f"{p.source}->{p.target}" for p in await run_in_threadpool(runtime.translator.pairs)]
        except Exception as exc:  # a translator that cannot list its pairs is reported, not fatal
            log.warning("healthz: translation pairs unavailable: %s", exc)
            pairs = []
        body = {"status": "ok" if database == "ok" else "degraded", "version": __version__,
                "database": database, "engine": provider.status,
                "relay": "degraded" if runtime.bus_degraded else "ok",
                "translation": {"translator": settings.translator, "pairs": pairs}}
        if runtime.closing:  # SIGTERM: fail the balancer's health check while bot turns finish
            body["status"] = "shutting_down"
            return JSONResponse(body, status_code=503)
        return body

    @app.get("/metrics", tags=["meta"], response_class=Response)
    async def metrics_endpoint(request: Request) -> Response:
        """Prometheus metrics of this process; needs an admin's bearer token (or use
        ``BORDERLESS_METRICS_ADDRESS`` for an unauthenticated private address)."""
        header = request.headers.get("authorization") or ""
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        user = await run_in_threadpool(lookup_principal, request, token)
        if user is None:
            raise HTTPException(401, detail={"code": "unauthorized", "message": "Metrics need an admin token."},
                                headers={"WWW-Authenticate": "Bearer"})
        if user.role != "admin":
            raise HTTPException(403, detail={"code": "forbidden", "message": "Metrics are for admins."})
        body = await run_in_threadpool(metrics.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/i18n", tags=["meta"])
    def i18n_lists() -> dict[str, Any]:
        """The supported locales and the right-to-left languages: the one source the pages read them from."""
        return {"locales": list(SUPPORTED_LOCALES), "rtl": list(RTL_LANGUAGES),
                "default_locale": settings.default_locale}

    @app.get("/api/i18n/{lang}", tags=["meta"])
    def ui_strings(lang: str) -> dict[str, str]:
        """The widget's strings in ``lang`` (English where a string is missing)."""
        return ui_bundle(supported_locale(lang, settings.default_locale))

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return _page("index.html" if (STATIC_DIR / "index.html").is_file() else "demo.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:  # pages link the SVG; this answers browsers and tools that ask by habit
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    for route, filename in PAGES.items():
        app.add_api_route(route, _page_endpoint(filename), include_in_schema=False, methods=["GET"])

    app.mount("/widget", StaticFiles(directory=WIDGET_DIR, check_dir=False), name="widget")
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app
