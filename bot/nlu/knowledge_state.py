"""Live knowledge: the state the answer engine reads, and how it changes while shoppers keep asking.

Knowledge (entries, index, intent classifier) lives in one immutable ``KnowledgeState``;
``LiveKnowledge`` holds the reference to the live one, and a request reads that reference once
and uses the snapshot throughout.

    swap(kb)           full rebuild aside ─► replay entry changes made meanwhile ─► swap
    apply({id: e})     embed only e's variants ─► copy-on-write index (shared segments)
                       ─► swap (well under a second at 100k variants)
                       ─► intent classifier retrained in the background ─► swap again

So a request never sees a half-built index; after an incremental change the classifier
lags a few seconds behind the index (``classifier_fresh`` says when it has caught up).
``derive(base, changes)`` builds a private state the same way without swapping, for the
editor's "test your change".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase, Variant
from bot.nlu.base import ANY_LOCALE
from bot.nlu.centering import LanguageCentering
from bot.nlu.embedders import CachedEmbedder
from bot.nlu.examples import IntentExampleViews
from bot.nlu.index import VectorIndex
from bot.nlu.intents import FAQ_INTENT, FAQ_PREFIX, MAX_ENTRY_CLASSES, LogisticIntentClassifier, training_fingerprint
from bot.nlu.spelling import SpellingRepair
from bot.settings import Settings

log = logging.getLogger(__name__)

#: After an incremental change, retrain the intent classifier once no change came for this long...
RETRAIN_DEBOUNCE_SECONDS = 0.5
#: ...but no later than this after the first change of a burst.
RETRAIN_MAX_DELAY_SECONDS = 5.0
#: The background trainer thread exits after this long without work (it restarts on the next change).
RETRAIN_IDLE_EXIT_SECONDS = 60.0


@dataclass(frozen=True)
class KnowledgeState:
    """Everything derived from one version of the knowledge base; never mutated once published."""

    kb: KnowledgeBase
    index: VectorIndex
    classifier: LogisticIntentClassifier
    #: False while the classifier was trained on an older knowledge base (a background retrain is due).
    classifier_fresh: bool = True
    #: Whether vectors (index, classifier, queries) are language-centred: a one-language FAQ (bot/nlu/centering.py).
    centred: bool = False
    #: Repairs the shopper's unknown words onto this knowledge's vocabulary (bot/nlu/spelling.py); None: off.
    spelling: SpellingRepair | None = None
    #: The FAQ's one language when it has exactly one (None for a multilingual FAQ): queries may be translated to it.
    language: str | None = None
    #: A centred state's variants once more, not centred: questions in the FAQ's own language are ranked on these.
    #: Centring only needs to bridge languages; within one it sharpened the index's scores, so off-topic
    #: questions got answered (CLINC150 val out-of-scope not answered 39 -> 65 %, in-scope 94.1 -> 95.5 %).
    plain_index: VectorIndex | None = None

    def index_for(self, lang: str | None) -> tuple[VectorIndex, bool]:
        """The index a question in ``lang`` (None: not sure) is ranked on, and whether it (and the query) is centred."""
        if self.plain_index is not None and lang == self.language:
            return self.plain_index, False
        return self.index, self.centred


class LiveKnowledge:
    """The live ``KnowledgeState`` and every way it changes: full swaps, incremental changes, background retrains.

    Thread-safe. Readers take ``state`` (a plain attribute read) and never lock.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: CachedEmbedder,
        intent_examples: dict[str, dict[str, list[str]]],
        kb: KnowledgeBase,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        # Emoji-only examples (ANY_LOCALE) belong to no language: only a message of emoji alone is read with them
        # (IntentExampleViews.pictograph_intent). The classifier, the lint and the language views get the rest.
        self.intent_examples = {
            intent: {locale: texts for locale, texts in by_locale.items() if locale != ANY_LOCALE}
            for intent, by_locale in intent_examples.items()
        }
        pictographs = {intent: by_locale.get(ANY_LOCALE, []) for intent, by_locale in intent_examples.items()}
        self.centering: LanguageCentering | None = None  # estimated on the first one-language build
        #: Greeting/thanks vectors and phrases, the examples' vocabulary: built on first use (bot/nlu/examples.py).
        self.examples = IntentExampleViews(self.intent_examples, embedder, self.centre, pictographs)
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
        self.state = self.build(kb)

    def build(self, kb: KnowledgeBase, progress: bool = True) -> KnowledgeState:
        """Embed, index and train for ``kb`` without touching the live state."""
        started = time.perf_counter()
        variants = list(kb.variants())
        languages = {v.locale for v in variants}
        language = next(iter(languages)) if len(languages) == 1 else None
        centred = self.settings.language_centering > 0 and language is not None
        if centred and self.centering is None:  # idempotent: a racing second estimate computes the same means
            # From the bundled examples, not the store's: a language's mean is a property of the model and the
            # language. A store's own intents can be one class in one language (CLINC150's out-of-scope lines):
            # their mean is that class's direction, and removing it erased the class (val OOS recall 60 -> 34 %).
            self.centering = LanguageCentering.estimate(
                self.embedder.embed_passages, files.load_intents(files.STARTER_KB), self.settings.language_centering
            )
        plain = self.embedder.embed_passages([v.question for v in variants], progress=progress)
        vectors = self.centre(plain, [v.locale for v in variants], centred)
        index = VectorIndex(self.embedder.dim)
        index.add(variants, vectors)
        plain_index = None
        if centred:
            plain_index = VectorIndex(self.embedder.dim)
            plain_index.add(variants, plain)
        classifier = self._train_classifier(variants, vectors, centred)
        spelling = None
        if self.settings.spelling_repair:
            spelling = self.examples.spelling().extend(v.question for v in variants)
        log.info(
            "knowledge state built: %d entries, %d variants in %.2fs",
            len(kb.published()),
            len(variants),
            time.perf_counter() - started,
        )
        return KnowledgeState(
            kb, index, classifier, centred=centred, spelling=spelling, language=language, plain_index=plain_index
        )

    def swap(self, kb: KnowledgeBase, build: Callable[[KnowledgeBase], KnowledgeState] | None = None) -> None:
        """Rebuild aside with ``build`` (default ``self.build``), then switch atomically (a reference assignment).

        Shoppers keep getting answers from the old state during the build, and incremental
        changes keep applying; those made while the build ran are replayed onto the new state
        before the swap, so none is lost.
        """
        with self._rebuild_lock:
            with self._swap_lock:
                start = self._generation
                self._rebuilds += 1
            try:
                state = (build or self.build)(kb)
                with self._swap_lock:
                    replay: dict[str, Entry | None] = {}
                    for gen, faq_id, entry in self._journal:
                        if gen > start:
                            replay.pop(faq_id, None)
                            replay[faq_id] = entry
                    if replay:
                        log.info("replaying %d entry changes made during the rebuild", len(replay))
                        state = self.derive(state, replay)
                    self._install(state)
            finally:
                with self._swap_lock:
                    self._rebuilds -= 1
                    if not self._rebuilds:
                        self._journal.clear()
        if not state.classifier_fresh:
            self._schedule_retrain()

    def apply(self, changes: Mapping[str, Entry | None]) -> None:
        """Apply entry changes (``faq_id -> entry``, None removes) to the live state, copy-on-write.

        Only the changed entries' variants are embedded (most are cached already) and only their
        rows in the index change; the intent classifier is retrained in the background.
        """
        if not changes:
            return
        started = time.perf_counter()
        for entry in changes.values():  # embed outside the lock; derive then finds the vectors cached
            texts = [v.question for v in self._entry_variants(entry)]
            if texts:
                self.embedder.embed_passages(texts)
        with self._swap_lock:
            state = self.derive(self.state, changes)
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

    def derive(self, base: KnowledgeState, changes: Mapping[str, Entry | None]) -> KnowledgeState:
        """A new state: ``base`` with ``changes`` applied; ``base`` is left untouched (shared segments)."""
        entries = dict(base.kb.entries)
        index = base.index.copy()
        plain_index = base.plain_index.copy() if base.plain_index is not None else None
        inserted = False
        new_texts: list[str] = []
        for faq_id, entry in changes.items():
            if entry is None:
                entries.pop(faq_id, None)
            else:
                inserted = inserted or faq_id not in entries
                entries[faq_id] = entry
            variants = self._entry_variants(entry)
            new_texts.extend(v.question for v in variants)
            plain = self.embedder.embed_passages([v.question for v in variants]) if variants else None
            for target, centred in ((index, base.centred), (plain_index, False)):
                if target is None:
                    continue
                if plain is not None:
                    target.replace_entry(faq_id, variants, self.centre(plain, [v.locale for v in variants], centred))
                else:
                    target.remove_entry(faq_id)
        if inserted:  # keep id order, so the classifier's training fingerprint matches a fresh load
            entries = dict(sorted(entries.items()))
        kb = KnowledgeBase(entries=entries, default_locale=base.kb.default_locale)
        # Centring stays as the last full build chose it (the next swap re-decides), so vectors stay comparable.
        # The vocabulary only grows until the next full build: a removed entry's words are harmless to keep.
        spelling = base.spelling.extend(new_texts) if base.spelling is not None else None
        return KnowledgeState(
            kb, index, base.classifier, classifier_fresh=False, centred=base.centred, spelling=spelling,
            language=base.language, plain_index=plain_index,
        )

    def status(self) -> dict[str, object]:
        """Size and freshness of the live state, for status pages and tests."""
        state = self.state
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
        while not self.state.classifier_fresh:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    # ------------------------------------------------------------------ internals of the swap
    def _install(self, state: KnowledgeState) -> None:
        """Publish ``state`` (caller holds ``_swap_lock``)."""
        self.state = state
        self._generation += 1

    def _variant_vectors(self, variants: list[Variant], centred: bool, progress: bool = False) -> np.ndarray:
        """Embeddings of question variants as the index and classifier use them (language-centred if ``centred``)."""
        vectors = self.embedder.embed_passages([v.question for v in variants], progress=progress)
        return self.centre(vectors, [v.locale for v in variants], centred)

    def signature(self, centred: bool) -> str:
        """What the vectors depend on besides the texts: model, normalisation, centring (for the fingerprint)."""
        norm = getattr(self.embedder, "normalise", None)
        centring = self.centering.signature if self.centering is not None and centred else "none"
        return f"{self.embedder.name}|{getattr(norm, '__name__', 'none')}|{centring}"

    def centre(self, vectors: np.ndarray, langs: list[str], centred: bool | None = None) -> np.ndarray:
        """Remove each text's language mean (bot/nlu/centering.py) when ``centred`` (None: as the live state is)."""
        if centred is None:
            centred = self.state.centred
        if not centred or self.centering is None or not len(vectors):
            return vectors
        return self.centering.apply(vectors, langs)

    @staticmethod
    def _entry_variants(entry: Entry | None) -> list[Variant]:
        """The variants ``entry`` contributes to the index (none unless published)."""
        if entry is None:
            return []
        return list(KnowledgeBase(entries={entry.id: entry}).variants())

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
                        self._retrain_thread = None  # idle: let the thread (and a dropped engine's knowledge) go
                        return
                while True:
                    due = min(self._retrain_due or 0.0, self._retrain_deadline or 0.0)
                    if time.monotonic() >= due:
                        break
                    self._retrain_cv.wait(due - time.monotonic())
                self._retrain_due = self._retrain_deadline = None
            state = self.state
            if state.classifier_fresh:
                continue
            try:
                started = time.perf_counter()
                variants = list(state.kb.variants())
                vectors = self._variant_vectors(variants, state.centred)
                classifier = self._train_classifier(variants, vectors, state.centred)
            except Exception:
                log.exception("background intent classifier retrain failed; keeping the previous one")
                continue
            with self._swap_lock:
                current = self.state
                if current.centred != state.centred:  # a full swap re-decided centring meanwhile: its classifier stays
                    continue
                self._install(replace(current, classifier=classifier, classifier_fresh=current.kb is state.kb))
            log.info(
                "intent classifier retrained in the background in %.2fs (%d variants)",
                time.perf_counter() - started,
                len(variants),
            )

    # ------------------------------------------------------------------ intent classifier
    def _train_classifier(
        self, variants: list[Variant], vectors: np.ndarray, centred: bool = False
    ) -> LogisticIntentClassifier:
        texts: list[str] = []
        labels: list[str] = []
        langs: list[str] = []
        # By default only locales the FAQ also covers: otherwise the classifier learns "Latvian => complaint"
        # for a store whose FAQ is English-only, and hands off every Latvian shopper (setting multilingual_intents).
        faq_locales = {v.locale for v in variants}
        for intent, by_locale in self.intent_examples.items():
            for locale, examples in by_locale.items():
                if locale in faq_locales or self.settings.multilingual_intents:
                    texts.extend(examples)
                    labels.extend([intent] * len(examples))
                    langs.extend([locale] * len(examples))
        fine = len({v.faq_id for v in variants}) <= MAX_ENTRY_CLASSES
        labels += [FAQ_PREFIX + v.faq_id if fine else FAQ_INTENT for v in variants]
        fingerprint = training_fingerprint(texts + [v.question for v in variants], labels, self.signature(centred))
        artifact = self.settings.models_dir / "intent-classifier.npz"
        if artifact.exists():
            try:
                clf = LogisticIntentClassifier.load(artifact)
                if clf.fingerprint == fingerprint:
                    return clf
            except Exception:
                log.warning("retraining: unreadable classifier artifact %s", artifact)
        with self._train_lock:
            return self._fit_classifier(texts, labels, langs, vectors, fingerprint, artifact, centred)

    def _fit_classifier(
        self,
        texts: list[str],
        labels: list[str],
        langs: list[str],
        vectors: np.ndarray,
        fingerprint: str,
        artifact: Path,
        centred: bool = False,
    ) -> LogisticIntentClassifier:
        examples = self.centre(self.embedder.embed_passages(texts, progress=True), langs, centred) if texts else None
        X = np.concatenate([examples, vectors]) if examples is not None else vectors
        clf = LogisticIntentClassifier().fit(X, labels)
        clf.fingerprint = fingerprint
        try:
            clf.save(artifact)
        except OSError as exc:  # a read-only install still answers; it just retrains next start
            log.warning("cannot save classifier to %s: %s", artifact, exc)
        return clf
