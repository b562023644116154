"""The interfaces every pipeline step implements, and the values they pass along.

Each step (language ID, embedder, vector index, intent classifier, decision
policy, translator) is a small component behind one of these protocols, so a
setting can swap one implementation for another without touching the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # the knowledge domain's values; nlu depends on it only for types here
    from bot.knowledge.models import Entry, KnowledgeBase

Action = Literal["answer", "clarify", "handoff", "decline"]

#: The locales the starter knowledge base and the bot's own strings cover.
SUPPORTED_LOCALES: tuple[str, ...] = (
    "en", "es", "fr", "de", "pt", "it", "nl", "zh", "ja", "ko", "ru", "ar", "lv", "pl", "tr",
)
#: Intent examples under this key belong to no language: emoji that are a greeting or thanks on their own ("👋",
#: "🙏"). Only a message of nothing but such emoji is read with them (bot/nlu/small_talk.py, PictographSmallTalk).
ANY_LOCALE = "any"


@dataclass(frozen=True)
class LanguageGuess:
    """A language code (ISO 639-1) with a confidence in [0, 1]."""

    lang: str
    confidence: float


@runtime_checkable
class LanguageIdentifier(Protocol):
    """Guesses the language of a short chat message among ``languages``."""

    name: str

    def detect(self, text: str) -> list[LanguageGuess]:
        """Candidates, best first; an empty list when the text carries no signal."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int
    #: The cosine under which a question and a stored variant are unrelated on this model's scale (0: unknown).
    relevance_floor: float

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Hit:
    """One retrieved question variant."""

    faq_id: str
    locale: str
    question: str
    score: float


@runtime_checkable
class Translator(Protocol):
    """Machine translation between two ISO 639-1 codes."""

    name: str

    def can_translate(self, source: str, target: str) -> bool: ...

    def translate(self, text: str, source: str, target: str) -> str: ...


@dataclass
class Turn:
    """What the engine remembers of one earlier turn in a conversation."""

    lang: str
    action: Action
    unresolved: bool


@dataclass
class ConversationContext:
    """Per-conversation state the engine reads and updates (language, unresolved streak)."""

    lang: str | None = None
    locale_hint: str | None = None
    turns: list[Turn] = field(default_factory=list)

    @property
    def unresolved_streak(self) -> int:
        n = 0
        for turn in reversed(self.turns):
            if not turn.unresolved:
                break
            n += 1
        return n


@dataclass
class Suggestion:
    """A clarify option the shopper can pick."""

    faq_id: str
    question: str


@dataclass
class Decision:
    """What the bot decided for one shopper message, and why."""

    lang: str
    intent: str
    action: Action
    faq_id: str | None
    confidence: float
    reason: str
    reply: str
    suggestions: list[Suggestion] = field(default_factory=list)
    reply_lang: str | None = None
    intent_confidence: float = 0.0
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The public ``ask --jsonl`` contract: exactly these keys."""
        return {
            "lang": self.lang,
            "intent": self.intent,
            "action": self.action,
            "faq_id": self.faq_id,
            "confidence": round(float(self.confidence), 4),
            "reason": self.reason,
            "reply": self.reply,
            "suggestions": [{"faq_id": s.faq_id, "question": s.question} for s in self.suggestions],
        }


@dataclass
class KnowledgeSync:
    """Which revision of each knowledge source (a database url) an engine reflects.

    Owned by the engine (so it lives and dies with it), kept in step by :mod:`bot.editor.live`.
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: source -> the revision the engine's knowledge reflects (absent: unknown, compare in full)
    applied: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class LiveEngine(Protocol):
    """The contract between the editor and the answer engine: knowledge that changes while the engine serves.

    ``bot.nlu.pipeline.AnswerEngine`` implements it; stand-in engines (tests, ``BORDERLESS_ENGINE_FACTORY``)
    that only ``respond`` do not, and the editor then serves without live updates or previews.
    """

    embedder: Embedder
    knowledge_sync: KnowledgeSync

    @property
    def kb(self) -> KnowledgeBase: ...

    def respond(self, text: str, context: ConversationContext | None = None) -> Decision: ...

    def snapshot(self) -> Any: ...

    def with_state(self, state: Any) -> LiveEngine: ...

    def preview(self, changes: Mapping[str, Entry | None], base: Any | None = None) -> LiveEngine: ...

    def apply_changes(self, changes: Mapping[str, Entry | None]) -> None: ...

    def swap_knowledge(self, kb: KnowledgeBase) -> None: ...

    def knowledge_status(self) -> dict[str, object]: ...


Factory = Callable[..., Any]


class Registry:
    """Name -> factory for one kind of component, so settings can pick an implementation."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Factory] = {}

    def register(self, name: str) -> Callable[[Factory], Factory]:
        def deco(factory: Factory) -> Factory:
            self._factories[name] = factory
            return factory

        return deco

    def create(self, name: str, **kwargs: Any) -> Any:
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            raise ValueError(f"unknown {self.kind} {name!r}; known: {known}") from None
        return factory(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._factories)
