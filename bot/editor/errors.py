"""The editor's refusals: each carries the HTTP status and error code the API answers with."""

from __future__ import annotations

from typing import Any


class EditorError(Exception):
    """A refused editor operation; ``status`` is the HTTP status the route answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


class NotFound(EditorError):
    status, code = 404, "not_found"


class AlreadyExists(EditorError):
    status, code = 409, "exists"


class VersionConflict(EditorError):
    """The entry changed since the version the caller based its change on."""

    status, code = 409, "version_conflict"


class PreconditionRequired(EditorError):
    status, code = 428, "version_required"


class Invalid(EditorError):
    status, code = 422, "invalid"


class ImportRejected(EditorError):
    status, code = 422, "import_rejected"
