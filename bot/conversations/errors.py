"""Errors the chat and handoff services raise; routes turn them into HTTP status codes."""

from __future__ import annotations


class ChatError(Exception):
    """Base class: ``code`` is a stable machine-readable string, the message is for people."""

    status = 400

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail or code


class NotFound(ChatError):
    """No such conversation (404)."""

    status = 404


class Conflict(ChatError):
    """The conversation is not in a state that allows this (409): someone else holds it, it is closed..."""

    status = 409


class Invalid(ChatError):
    """The request itself is wrong: empty text, text too long, bad email (422)."""

    status = 422


class Forbidden(ChatError):
    """The agent may not act on this conversation: its language is outside their scope (403)."""

    status = 403
