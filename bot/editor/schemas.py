"""Request bodies and response shapes of the editor API.

Responses are built as plain dicts by :mod:`bot.editor.service`; the models below declare them for OpenAPI
(``response_model``). They name the fields clients rely on and allow the rest, so a field added to a dict is
not silently dropped from the response.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LocaleIn(BaseModel):
    """One language of an entry: the answer (may be empty in a draft), its question variants and the question
    shoppers are shown for it (``title``; empty: the best-written variant)."""

    title: str = Field("", max_length=300)
    answer: str = Field("", max_length=8000)
    questions: list[str] = Field(default_factory=list, max_length=1000)


class EntryCreate(BaseModel):
    id: str = Field(min_length=1, max_length=80, description="lowercase letters, digits, - and _")
    topic: str = Field("general", max_length=200)
    locales: dict[str, LocaleIn] = Field(default_factory=dict)


class EntryUpdate(BaseModel):
    topic: str = Field("general", max_length=200)
    locales: dict[str, LocaleIn] = Field(default_factory=dict)
    version: int | None = Field(None, description="The version you edited (or send If-Match).")


class VersionBody(BaseModel):
    version: int | None = Field(None, description="The version you acted on (or send If-Match).")


class RestoreBody(BaseModel):
    restore: int = Field(ge=1, description="The version to bring back.")
    version: int | None = Field(None, description="The entry's current version (or send If-Match).")


class MissedIds(BaseModel):
    missed_ids: list[str] = Field(min_length=1, max_length=2000)


class MissedToEntry(MissedIds):
    id: str = Field(min_length=1, max_length=80)
    topic: str = Field("general", max_length=200)
    answers: dict[str, str] = Field(default_factory=dict, description="locale -> answer (else agents' replies)")


class MissedToVariants(MissedIds):
    entry_id: str = Field(min_length=1, max_length=80)
    version: int | None = None


class DraftEntry(BaseModel):
    """The edit form as it is now (saved or not)."""

    id: str = Field(min_length=1, max_length=80)
    topic: str = Field("general", max_length=200)
    locales: dict[str, LocaleIn] = Field(default_factory=dict)


class PreviewBody(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    locale: str | None = Field(None, max_length=35, description="The shopper's browser locale, e.g. es-ES.")
    entry: DraftEntry | None = Field(None, description="An entry as being edited; it overrides its working copy.")
    scope: Literal["entry", "all"] = Field(
        "all", description="all: every entry's working copy; entry: only ``entry`` differs from what is live."
    )


# ---------------------------------------------------------------------------------------------- responses
class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class EntrySummaryOut(_Out):
    """One row of the entry list."""

    id: str
    topic: str
    status: str
    version: int
    deleted: bool
    locales: list[str]
    published_locales: list[str]


class EntryOut(_Out):
    """The whole entry: working copy (``locales``), published copy, and what keeps it from being published."""

    id: str
    topic: str
    status: str
    version: int
    deleted: bool
    locales: dict[str, Any]
    published: dict[str, Any] | None
    problems: list[str]


class EntryListOut(_Out):
    total: int
    items: list[EntrySummaryOut]


class VersionOut(_Out):
    """One version of an entry's history."""

    version: int
    action: str
    changes: list[str]
    username: str | None


class CompletenessOut(_Out):
    """Which entries miss which languages (``entries[].cells[locale]``)."""

    locales: list[str]
    entries: list[dict[str, Any]]
    complete: dict[str, int]
    total: int


class StatusOut(_Out):
    """The knowledge base revision and, once built, the live engine's size and freshness."""

    revision: int
    engine: str


class MissedGroupOut(_Out):
    """Similar missed questions across languages."""

    id: str


class DismissedOut(_Out):
    dismissed: int


class PreviewOut(_Out):
    """What the bot does with the text now (``published``) and with the drafts (``draft``)."""

    text: str
    published: dict[str, Any]
    draft: dict[str, Any]
    draft_entries: list[str]
    same: bool
