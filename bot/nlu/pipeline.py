"""The answer engine: the whole path from a shopper's message to a decision, in one place.

    text ─► validate ─► language (detector + conversation context)
         ─► embed ─┬► intent classifier ──────────────┬► decision policy ─► reply in the shopper's language
                   └► vector index ─► fuse with the ──┘
                                      classifier's entry guess

Knowledge (entries, index, intent classifier) lives in one immutable
``KnowledgeState``; a request reads the reference once and uses that snapshot throughout.

    swap_knowledge(kb)      full rebuild aside ─► replay entry changes made meanwhile ─► swap
    apply_changes({id: e})  embed only e's variants ─► copy-on-write index (shared segments)
                            ─► swap (well under a second at 100k variants)
                            ─► intent classifier retrained in the background ─► swap again

So a request never sees a half-built index; after an incremental change the classifier
lags a few seconds behind the index (``classifier_fresh`` says when it has caught up).
``preview(changes)`` derives a private state the same way and answers against it without
swapping, for the editor's "test your change".
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.i18n import has, t
from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase, Variant
from bot.nlu.base import ConversationContext, Decision, LanguageIdentifier, Suggestion, Translator, Turn
from bot.nlu.embedders import EMBEDDERS, CachedEmbedder
from bot.nlu.index import EntryScore, VectorIndex, aggregate
from bot.nlu.intents import (
    FAQ_INTENT,
    FAQ_PREFIX,
    MAX_ENTRY_CLASSES,
    IntentPrediction,
    LogisticIntentClassifier,
    training_fingerprint,
)
from bot.nlu.langid import LANGID, resolve_language
from bot.nlu.policy import PolicyOutcome, ThresholdPolicy
from bot.nlu.translate import TRANSLATORS
from bot.settings import Settings

log = logging.getLogger(__name__)

#: After an incremental change, retrain the intent classifier once no change came for this long...
RETRAIN_DEBOUNCE_SECONDS = 0.5
#: ...but no later than this after the first change of a burst.
RETRAIN_MAX_DELAY_SECONDS = 5.0
#: The background trainer thread exits after this long without work (it restarts on the next change).
RETRAIN_IDLE_EXIT_SECONDS = 60.0


class InvalidMessage(ValueError):
    """The shopper's message cannot be processed (empty, too long, not text)."""


@dataclass(frozen=True)
class KnowledgeState:
    """Everything derived from one version of the knowledge base; never mutated once published."""

    kb: KnowledgeBase
    index: VectorIndex
    classifier: LogisticIntentClassifier
    #: False while the classifier was trained on an older knowledge base (a background retrain is due).
    classifier_fresh: bool = True


class AnswerEngine:
    """Turns shopper messages into decisions. Thread-safe; ``respond`` is CPU-bound."""

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
        self.intent_examples = intent_examples
        self._swap_lock = threading.Lock()
        self._rebuild_lock = threading.Lock()  # one full rebuild at a time
        self._train_lock = threading.Lock()  # one classifier training (and artifact write) at a time
        self._generation = 0  # bumped by every swap
        self._rebuilds = 0  # full rebuilds in progress: while > 0, incremental changes are journaled
        self._journal: list[tuple[int, str, Entry | None]] = []
        self._retrain_cv = threading.Condition()
        self._retrain_due: float | None = None
        self._retrain_deadline: float | None = None
        self._retrain_thread: threading.Thread | None = None
        self._state = self.build_state(kb)

    # ------------------------------------------------------------------ knowledge
    @property
    def kb(self) -> KnowledgeBase:
        return self._state.kb

    def build_state(self, kb: KnowledgeBase, progress: bool = True) -> KnowledgeState:
        """Embed, index and train for ``kb`` without touching the live state."""
        started = time.perf_counter()
        variants = list(kb.variants())
        vectors = self.embedder.embed_passages([v.question for v in variants], progress=progress)
        index = VectorIndex(self.embedder.dim)
        index.add(variants, vectors)
        classifier = self._train_classifier(variants, vectors)
        log.info(
            "knowledge state built: %d entries, %d variants in %.2fs",
            len(kb.published()),
            len(variants),
            time.perf_counter() - started,
        )
        return KnowledgeState(kb, index, classifier)

    def swap_knowledge(self, kb: KnowledgeBase) -> None:
        """Rebuild aside, then switch atomically (a reference assignment).

        Shoppers keep getting answers from the old state during the build, and incremental
        changes keep applying; those made while the build ran are replayed onto the new state
        before the swap, so none is lost.
        """
        with self._rebuild_lock:
            with self._swap_lock:
                start = self._generation
                self._rebuilds += 1
            try:
                state = self.build_state(kb)
                with self._swap_lock:
                    replay: dict[str, Entry | None] = {}
                    for gen, faq_id, entry in self._journal:
                        if gen > start:
                            replay.pop(faq_id, None)
                            replay[faq_id] = entry
                    if replay:
                        log.info("replaying %d entry changes made during the rebuild", len(replay))
                        state = self._derive(state, replay)
                    self._install(state)
            finally:
                with self._swap_lock:
                    self._rebuilds -= 1
                    if not self._rebuilds:
                        self._journal.clear()
        if not state.classifier_fresh:
            self._schedule_retrain()

    def update_entry(self, entry: Entry | None, faq_id: str) -> None:
        """Apply one entry's publish/unpublish/delete incrementally (``entry`` None: the entry is gone)."""
        self.apply_changes({faq_id: entry})

    def apply_changes(self, changes: Mapping[str, Entry | None]) -> None:
        """Apply entry changes (``faq_id -> entry``, None removes) to the live state, copy-on-write.

        Only the changed entries' variants are embedded (most are cached already) and only their
        rows in the index change; the intent classifier is retrained in the background.
        """
        if not changes:
            return
        started = time.perf_counter()
        for entry in changes.values():  # embed outside the lock; _derive then finds the vectors cached
            texts = [v.question for v in self._entry_variants(entry)]
            if texts:
                self.embedder.embed_passages(texts)
        with self._swap_lock:
            state = self._derive(self._state, changes)
            self._install(state)
            if self._rebuilds:
                self._journal.extend((self._generation, faq_id, entry) for faq_id, entry in changes.items())
        self._schedule_retrain()
        log.info(
            "applied %d entry change(s) in %.3fs (%d variants live)",
            len(changes),
            time.perf_counter() - started,
            len(state.index),
        )

    def snapshot(self) -> KnowledgeState:
        """The live knowledge state (immutable; keep it to answer several questions consistently)."""
        return self._state

    def with_state(self, state: KnowledgeState) -> AnswerEngine:
        """A read-only view of this engine answering from ``state`` (``respond`` only; never swap on it)."""
        view = copy.copy(self)
        view._state = state
        return view

    def preview(self, changes: Mapping[str, Entry | None], base: KnowledgeState | None = None) -> AnswerEngine:
        """A view answering as if ``changes`` were applied to ``base`` (default: the live state); nothing is swapped."""
        return self.with_state(self._derive(base or self._state, changes))

    def knowledge_status(self) -> dict[str, object]:
        """Size and freshness of the live state, for status pages and tests."""
        state = self._state
        return {
            "entries": len(state.kb.published()),
            "variants": len(state.index),
            "segments": state.index.segments,
            "classifier_fresh": state.classifier_fresh,
            "generation": self._generation,
        }

    def wait_until_current(self, timeout: float = 60.0) -> bool:
        """Block until the live classifier matches the live knowledge base (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not self._state.classifier_fresh:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    # -- internals of the swap
    def _install(self, state: KnowledgeState) -> None:
        """Publish ``state`` (caller holds ``_swap_lock``)."""
        self._state = state
        self._generation += 1

    @staticmethod
    def _entry_variants(entry: Entry | None) -> list[Variant]:
        """The variants ``entry`` contributes to the index (none unless published)."""
        if entry is None:
            return []
        return list(KnowledgeBase(entries={entry.id: entry}).variants())

    def _derive(self, base: KnowledgeState, changes: Mapping[str, Entry | None]) -> KnowledgeState:
        """A new state: ``base`` with ``changes`` applied; ``base`` is left untouched (shared segments)."""
        entries = dict(base.kb.entries)
        index = base.index.copy()
        inserted = False
        for faq_id, entry in changes.items():
            if entry is None:
                entries.pop(faq_id, None)
            else:
                inserted = inserted or faq_id not in entries
                entries[faq_id] = entry
            variants = self._entry_variants(entry)
            if variants:
                index.replace_entry(faq_id, variants, self.embedder.embed_passages([v.question for v in variants]))
            else:
                index.remove_entry(faq_id)
        if inserted:  # keep id order, so the classifier's training fingerprint matches a fresh load
            entries = dict(sorted(entries.items()))
        kb = KnowledgeBase(entries=entries, default_locale=base.kb.default_locale)
        return KnowledgeState(kb, index, base.classifier, classifier_fresh=False)

    def _schedule_retrain(self) -> None:
        """Ask the background trainer to refresh the classifier soon (changes in a burst share one retrain)."""
        with self._retrain_cv:
            now = time.monotonic()
            self._retrain_due = now + RETRAIN_DEBOUNCE_SECONDS
            if self._retrain_deadline is None:
                self._retrain_deadline = now + RETRAIN_MAX_DELAY_SECONDS
            if self._retrain_thread is None or not self._retrain_thread.is_alive():
                self._retrain_thread = threading.Thread(target=self._retrain_loop, name="intent-retrain", daemon=True)
                self._retrain_thread.start()
            self._retrain_cv.notify_all()

    def _retrain_loop(self) -> None:
        while True:
            with self._retrain_cv:
                while self._retrain_due is None:
                    if not self._retrain_cv.wait(timeout=RETRAIN_IDLE_EXIT_SECONDS):
                        self._retrain_thread = None  # idle: let the thread (and a dropped engine) go
                        return
                while True:
                    due = min(self._retrain_due or 0.0, self._retrain_deadline or 0.0)
                    if time.monotonic() >= due:
                        break
                    self._retrain_cv.wait(due - time.monotonic())
                self._retrain_due = self._retrain_deadline = None
            state = self._state
            if state.classifier_fresh:
                continue
            try:
                started = time.perf_counter()
                variants = list(state.kb.variants())
                vectors = self.embedder.embed_passages([v.question for v in variants])
                classifier = self._train_classifier(variants, vectors)
            except Exception:
                log.exception("background intent classifier retrain failed; keeping the previous one")
                continue
            with self._swap_lock:
                current = self._state
                self._install(replace(current, classifier=classifier, classifier_fresh=current.kb is state.kb))
            log.info(
                "intent classifier retrained in the background in %.2fs (%d variants)",
                time.perf_counter() - started,
                len(variants),
            )

    def _train_classifier(self, variants: list[Variant], vectors: np.ndarray) -> LogisticIntentClassifier:
        texts: list[str] = []
        labels: list[str] = []
        # Only locales the FAQ also covers: otherwise the classifier learns "Latvian => complaint"
        # for a store whose FAQ is English-only, and hands off every Latvian shopper.
        faq_locales = {v.locale for v in variants}
        for intent, by_locale in self.intent_examples.items():
            for locale, examples in by_locale.items():
                if locale in faq_locales:
                    texts.extend(examples)
                    labels.extend([intent] * len(examples))
        fine = len({v.faq_id for v in variants}) <= MAX_ENTRY_CLASSES
        labels += [FAQ_PREFIX + v.faq_id if fine else FAQ_INTENT for v in variants]
        fingerprint = training_fingerprint(texts + [v.question for v in variants], labels, self.embedder.name)
        artifact = self.settings.models_dir / "intent-classifier.npz"
        if artifact.exists():
            try:
                clf = LogisticIntentClassifier.load(artifact)
                if clf.fingerprint == fingerprint:
                    return clf
            except Exception:
                log.warning("retraining: unreadable classifier artifact %s", artifact)
        with self._train_lock:
            return self._fit_classifier(texts, labels, variants, vectors, fingerprint, artifact)

    def _fit_classifier(
        self,
        texts: list[str],
        labels: list[str],
        variants: list[Variant],
        vectors: np.ndarray,
        fingerprint: str,
        artifact: Path,
    ) -> LogisticIntentClassifier:
        X = np.concatenate([self.embedder.embed_passages(texts, progress=True), vectors]) if texts else vectors
        clf = LogisticIntentClassifier().fit(X, labels)
        clf.fingerprint = fingerprint
        try:
            clf.save(artifact)
        except OSError as exc:  # a read-only install still answers; it just retrains next start
            log.warning("cannot save classifier to %s: %s", artifact, exc)
        return clf

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
        state = self._state  # one consistent snapshot for this message
        default = context.locale_hint.split("-")[0].lower() if context.locale_hint else state.kb.default_locale
        lang = resolve_language(self.langid, text, context, default).lang

        query = self.embedder.embed_queries([text])[0]
        intent = state.classifier.predict(query)[0]
        entries = self._rank(state, query, intent)
        outcome = self.policy.decide(intent, entries, context)

        decision = self._compose(state, outcome, intent.intent, intent.confidence, lang, entries)
        context.lang = lang
        context.turns.append(Turn(lang=lang, action=decision.action, unresolved=decision.action == "clarify"))
        return decision

    def _rank(self, state: KnowledgeState, query: np.ndarray, intent: IntentPrediction) -> list[EntryScore]:
        """Entries by probability: the index's best cosine per entry fused with the classifier's guess."""
        entries = aggregate(state.index.search(query, k=40))
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
        elif outcome.action == "answer":
            reply = self._say(outcome.reason, lang)
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
        return t(key, lang if has(key, lang, "bot") else "en", "bot")

    def answer_text(self, kb: KnowledgeBase, faq_id: str, lang: str) -> tuple[str, str]:
        """The entry's answer in ``lang``: its own translation, a machine translation, or the default + a note."""
        entry = kb.entries[faq_id]
        own = entry.answer_in(lang)
        if own:
            return own, lang
        source = kb.default_locale if kb.default_locale in entry.locales else next(iter(entry.locales))
        base = entry.locales[source].answer
        if self.translator.can_translate(source, lang):
            try:
                return f"{self.translator.translate(base, source, lang)} {self._say('translated_note', lang)}", lang
            except Exception as exc:
                log.warning("translation %s->%s failed: %s", source, lang, exc)
        return f"{self._say('fallback_note', lang)}\n{base}", source

    @staticmethod
    def _question_in(kb: KnowledgeBase, entry: EntryScore, lang: str) -> str:
        content = kb.entries[entry.faq_id].locales.get(lang)
        return content.questions[0] if content else entry.best.question


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
    intent_dir = kb_path if kb_path.is_dir() else Path(__file__).resolve().parents[2] / "knowledge_base"
    if intent_examples is None:
        intent_examples = files.load_intents(intent_dir)
    inner = EMBEDDERS.create(settings.embedder, model=settings.embedder_model)
    return AnswerEngine(
        settings=settings,
        embedder=CachedEmbedder(inner, settings.models_dir / "cache"),
        langid=LANGID.create(settings.langid),
        translator=TRANSLATORS.create(settings.translator),
        policy=ThresholdPolicy(
            answer_threshold=settings.answer_threshold,
            clarify_threshold=settings.clarify_threshold,
            intent_threshold=settings.intent_threshold,
            max_unresolved_turns=settings.max_unresolved_turns,
        ),
        intent_examples=intent_examples,
        kb=kb,
    )
