"""Request guards and response headers, as pure ASGI middleware (no request object, no buffering by default).

- :class:`BodyLimitMiddleware`: refuses bodies above ``BORDERLESS_MAX_BODY_BYTES`` with 413, counting the bytes
  actually streamed (a chunked body has no ``Content-Length`` to trust).
- :class:`JsonUnicodeMiddleware`: refuses JSON bodies holding lone surrogates (``"\\ud800"``) with 422
  ``bad_request`` before a route can try to store them.
- :class:`SecurityHeadersMiddleware`: ``nosniff`` and a referrer policy everywhere; on pages that hold
  credentials (the console, the editor) a Content-Security-Policy without inline script and framing refused.
  The widget script and the demo store page stay embeddable: a store serves them in its own pages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.errors import error_response
from bot.web.unicode import has_lone_surrogate, may_hold_surrogate

log = logging.getLogger(__name__)


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once the streamed body passes the limit; FastAPI re-raises HTTP exceptions from
    body parsing, so the app's handler answers 413 in the error format."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail={"code": "too_large",
                                      "message": f"The request body is larger than {limit} bytes.",
                                      "limit": limit})


class BodyLimitMiddleware:
    """413 for bodies above ``max_body`` bytes: a declared ``Content-Length`` is refused before reading, a
    streamed body as soon as the bytes received pass the limit (the rest is never read)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers") or [] if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Raised where no handler converted it (a plain Starlette endpoint, a mount).
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.info("refused a request body above %d bytes: %s %s", self.max_body, scope.get("method"),
                 scope.get("path"))
        response = error_response(413, "too_large", f"The request body is larger than {self.max_body} bytes.",
                                  headers={"Connection": "close"}, limit=self.max_body)
        await response(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    ctype = next((v for k, v in scope.get("headers") or [] if k == b"content-type"), b"")
    media = ctype.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class JsonUnicodeMiddleware:
    """422 ``bad_request`` for JSON bodies with a lone surrogate. Only JSON requests are read ahead (they are
    buffered whole by the route anyway); the body is then replayed to the app unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        messages: list[Message] = []
        while True:
            message = await receive()  # BodyTooLarge propagates from here to the body limit
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        if may_hold_surrogate(raw) and _decodes_to_surrogate(raw):
            response = error_response(
                422, "bad_request", "The request holds invalid Unicode (a lone surrogate such as \\ud800).",
                errors=[{"loc": ["body"], "msg": "lone surrogate in a string", "type": "invalid_unicode"}])
            await response(scope, receive, send)
            return

        replay = iter([{"type": "http.request", "body": raw, "more_body": False}] if messages and
                      messages[-1]["type"] == "http.request" else messages)

        async def replay_receive() -> Message:
            message = next(replay, None)
            return message if message is not None else await receive()

        await self.app(scope, replay_receive, send)


def _decodes_to_surrogate(raw: bytes) -> bool:
    try:
        return has_lone_surrogate(json.loads(raw))
    except (ValueError, RecursionError):
        return False  # not JSON at all: the route's own parser answers that


#: Pages that hold a login token (the console and the editor keep it in sessionStorage). The CSP is strict:
#: scripts and styles only from this server (no inline script, so injected markup cannot run), no plugins,
#: no framing (clickjacking), forms post only here.
CREDENTIAL_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: The OpenAPI pages run Swagger/ReDoc's own inline script; they may hold a token too, so they only refuse framing.
FRAME_ONLY_CSP = "frame-ancestors 'none'"
DEFAULT_PAGE_POLICIES: dict[str, str] = {
    "/console": CREDENTIAL_PAGE_CSP,
    "/editor": CREDENTIAL_PAGE_CSP,
    "/users": CREDENTIAL_PAGE_CSP,
    "/reports": CREDENTIAL_PAGE_CSP,
    "/docs": FRAME_ONLY_CSP,
    "/redoc": FRAME_ONLY_CSP,
}


class SecurityHeadersMiddleware:
    """``nosniff`` and ``strict-origin-when-cross-origin`` on every response; CSP and ``X-Frame-Options: DENY``
    on the credential pages. Headers a route set itself are kept."""

    def __init__(self, app: ASGIApp, page_policies: Mapping[str, str] | None = None) -> None:
        self.app = app
        policies = DEFAULT_PAGE_POLICIES if page_policies is None else page_policies
        self.pages = {(p.rstrip("/") or "/"): csp.encode("latin-1") for p, csp in policies.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "").rstrip("/") or "/"
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
        csp = self.pages.get(path)
        if csp is not None:
            extra += [(b"content-security-policy", csp), (b"x-frame-options", b"DENY")]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra if k not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
