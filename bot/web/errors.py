"""One error format for every 4xx/5xx JSON response: ``{"error": {"code": "...", "message": "...", ...}}``.

Routes raise ``HTTPException(status, detail={"code": "snake_case", "message": "Human sentence.", ...})``; the
handlers here pass such a detail through as the ``error`` object (extra keys such as ``problems`` or
``current_version`` included). A plain-string detail (Starlette's 404/405, a library's exception) gets a
``code`` derived from the status. FastAPI's validation errors become ``bad_request`` with an ``errors`` list
that never echoes the input (it may be a password, or a string that cannot be encoded). Anything unhandled is
logged and answered ``internal`` without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.web.unicode import scrub

log = logging.getLogger(__name__)

#: The ``code`` of an error whose raiser gave none.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "bad_request",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    """The ``error`` object; routes may add keys (``errors``, ``problems``, ``current_version``...)."""

    model_config = {"extra": "allow"}

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx JSON body (declared in the OpenAPI of every route)."""

    error: ErrorDetail


def code_for_status(status: int) -> str:
    """A stable code for a status when the raiser gave none."""
    if status in STATUS_CODES:
        return STATUS_CODES[status]
    return "internal" if status >= 500 else "bad_request"


def _sentence(text: str) -> str:
    text = scrub(text.strip()) or "Request failed."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def error_body(status: int, code: str | None = None, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """``{"error": {...}}`` for ``status``; ``message`` defaults to the status phrase."""
    if message is None:
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = "Request failed"
    return {"error": {"code": code or code_for_status(status), "message": _sentence(message), **extra}}


def error_response(status: int, code: str | None = None, message: str | None = None,
                   headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    """A ready response in the error format (for middleware that answers before any route)."""
    return JSONResponse(error_body(status, code, message, **extra), status_code=status, headers=dict(headers or {}))


def json_safe(value: Any) -> Any:
    """``value`` made of JSON types only, strings scrubbed of lone surrogates (anything else: its ``str``)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        return [json_safe(v) for v in value]
    return scrub(str(value))


def detail_to_error(status: int, detail: Any) -> dict[str, Any]:
    """The ``error`` object for an ``HTTPException`` detail: a ``{"code", "message"}`` dict as-is (an old-style
    ``{"code", "detail"}`` is read as code and message), anything else as the message."""
    if isinstance(detail, Mapping) and isinstance(detail.get("code"), str):
        extra = {k: v for k, v in detail.items() if k not in ("code", "message", "detail")}
        message = detail.get("message") or detail.get("detail")
        if not message:
            return error_body(status, detail["code"], None, **json_safe(extra))["error"]
        # The raiser's own words, as written (they are already meant for people).
        return {"code": detail["code"], "message": scrub(str(message)), **json_safe(extra)}
    if isinstance(detail, str) and detail:
        return error_body(status, None, detail)["error"]
    return error_body(status)["error"]


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI/pydantic error entries as ``{"loc": [...], "msg": "...", "type": "..."}``, without ``input``."""
    out = []
    for err in errors:
        if not isinstance(err, Mapping):
            out.append({"loc": [], "msg": scrub(str(err)), "type": "invalid"})
            continue
        loc = [part if isinstance(part, int) else scrub(str(part)) for part in err.get("loc") or ()]
        out.append({"loc": loc, "msg": scrub(str(err.get("msg", ""))), "type": scrub(str(err.get("type", "")))})
    return out


def _validation_message(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "The request is not valid."
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"][1:] if p != "") or (str(first["loc"][0]) if first["loc"] else "")
    return f"{where}: {first['msg']}" if where else first["msg"]


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = detail_to_error(exc.status_code, exc.detail)
    if exc.status_code >= 500:
        log.warning("%s %s answered %d %s", request.method, request.url.path, exc.status_code, error["code"])
    return JSONResponse({"error": error}, status_code=exc.status_code, headers=exc.headers)


async def _validation_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    body = error_body(422, "bad_request", _validation_message(errors), errors=errors)
    return JSONResponse(body, status_code=422)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's ServerErrorMiddleware calls this, then re-raises so the traceback is logged once.
    return error_response(500, "internal", "The server could not handle this request. Retry later.")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the one format."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_exception)
    app.add_exception_handler(Exception, _unhandled)


#: ``responses=`` for routers: every route may answer these with :class:`ErrorResponse`.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorResponse, "description": "Client error (see docs/protocol.md, error format)"},
    "5XX": {"model": ErrorResponse, "description": "Server error"},
}
