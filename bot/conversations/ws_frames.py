"""Socket frames as typed models: what each side may send, how a raw frame is read, and the error frames.

A frame is a JSON object whose ``type`` picks its model (a pydantic discriminated union). Reading a frame yields
either a model or an ``error`` frame with the same codes as the REST API: ``too_large``, ``bad_json``,
``bad_request`` (with ``errors`` naming the fields), ``unknown_type``. Range checks that need settings (text
length) or the database (client ids, email) stay in the services, so REST and sockets share them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter, ValidationError

from bot.web.unicode import has_lone_surrogate

#: Close codes (docs/protocol.md). 1009 (frame above the protocol limit) comes from the websocket layer.
CLOSE_UNAUTHORIZED = 4401  # no or bad hello/auth, logout, deactivation: log in again
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_LAGGING = 4409  # fell behind the relay: reconnect and resume from the database
CLOSE_ACCOUNT_CHANGED = 4412  # the agent's role or languages changed: reconnect to get the new scope
CLOSE_SERVICE_RESTART = 1012  # uvicorn's code on shutdown: reconnect (through the balancer) and resume
CLOSE_RATE_LIMITED = 4429  # too many sockets or new conversations from one address: retry after retry_after s
CLOSE_CODES = frozenset({1000, 1001, 1009, 1011, CLOSE_SERVICE_RESTART, CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN_ORIGIN,
                         CLOSE_HELLO_TIMEOUT, CLOSE_LAGGING, CLOSE_ACCOUNT_CHANGED, CLOSE_RATE_LIMITED})

Id = Annotated[StrictStr, Field(max_length=64)]


class Frame(BaseModel):
    """Fields a frame does not define are ignored (clients may be newer than the server)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# ---------------------------------------------------------------------------------------------- shopper -> server
class Hello(Frame):
    type: Literal["hello"]
    store_key: StrictStr | None = Field(None, max_length=200)
    conversation_id: Id | None = None
    token: StrictStr | None = Field(None, max_length=200)
    locale: StrictStr | None = Field(None, max_length=35)
    last_seq: StrictInt | None = None


class ShopperMessage(Frame):
    type: Literal["message"]
    client_id: StrictStr = Field(max_length=64)
    text: StrictStr  # the length limit is a setting, checked by ChatService.check_text (reason text_too_long)
    faq_id: StrictStr | None = Field(None, max_length=80)


class Typing(Frame):
    type: Literal["typing"]


class Email(Frame):
    type: Literal["email"]
    email: StrictStr = Field(max_length=254)


class Rating(Frame):
    type: Literal["rating"]
    score: StrictInt


class Ping(Frame):
    type: Literal["ping"]


# ---------------------------------------------------------------------------------------------- agent -> server
class Auth(Frame):
    type: Literal["auth"]
    token: StrictStr = Field(max_length=200)


class AgentTyping(Frame):
    type: Literal["typing"]
    conversation_id: Id


class QueueRequest(Frame):
    type: Literal["queue"]


ShopperFrame = Annotated[Hello | ShopperMessage | Typing | Email | Rating | Ping, Field(discriminator="type")]
AgentFrame = Annotated[Auth | AgentTyping | QueueRequest | Ping, Field(discriminator="type")]


class FrameReader:
    """Turns raw websocket messages into typed frames for one side of the protocol."""

    def __init__(self, union: Any, max_bytes: int) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(union)
        self.types = frozenset(_literal_types(union))
        self.max_bytes = max_bytes

    def read(self, message: dict[str, Any]) -> tuple[Frame | None, dict[str, Any] | None]:
        """``(frame, None)`` for a valid frame, ``(None, error frame)`` otherwise."""
        raw, error = parse_frame(message, self.max_bytes)
        if error is not None:
            return None, error
        assert raw is not None
        if raw["type"] not in self.types:
            return None, error_frame("unknown_type", f"unknown frame type {raw['type'][:40]!r}",
                                     client_id=_client_id(raw))
        try:
            return self.adapter.validate_python(raw), None
        except ValidationError as exc:
            errors = [{"loc": [str(p) for p in e["loc"][1:]], "msg": e["msg"], "type": e["type"]}
                      for e in exc.errors(include_input=False, include_url=False)]
            fields = ", ".join(".".join(e["loc"]) or "frame" for e in errors)
            return None, error_frame("bad_request", f"invalid {raw['type']} frame: {fields}", errors=errors,
                                     client_id=_client_id(raw))


def _literal_types(union: Any) -> list[str]:
    """The ``type`` values of an ``Annotated[A | B | ..., Field(discriminator="type")]`` union's models."""
    members = get_args(get_args(union)[0])
    return [get_args(model.model_fields["type"].annotation)[0] for model in members]


def _client_id(raw: dict[str, Any]) -> str | None:
    value = raw.get("client_id")
    return value if isinstance(value, str) and len(value) <= 64 else None


def error_frame(code: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    """``{"type": "error", "code", "detail", ...}``; extras that are None are left out."""
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail or code}
    frame.update({k: v for k, v in extra.items() if v is not None})
    return frame


def parse_frame(message: dict[str, Any], max_bytes: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(frame, None)`` for a JSON object with a string ``type``, ``(None, error frame)`` otherwise."""
    raw: str | bytes | None = message.get("text")
    if raw is None:
        raw = message.get("bytes")
    if raw is None:
        return None, error_frame("bad_request", "empty frame")
    if isinstance(raw, bytes):
        size = len(raw)
    else:  # UTF-8 takes at most 4 bytes a character: only long texts need encoding to be measured
        size = len(raw) if len(raw) * 4 <= max_bytes else len(raw.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return None, error_frame("too_large", f"frame is {size} bytes; the limit is {max_bytes}")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        return None, error_frame("bad_json", "frame is not valid JSON")
    if not isinstance(frame, dict):
        return None, error_frame("bad_request", "a frame is a JSON object")
    if not isinstance(frame.get("type"), str):
        return None, error_frame("bad_request", "a frame needs a string 'type'")
    if has_lone_surrogate(frame):  # UTF-8 cannot store it: the client's error, not the server's `internal`
        return None, error_frame("bad_request", "the frame holds invalid Unicode (a lone surrogate)",
                                 reason="invalid_unicode")
    return frame, None
