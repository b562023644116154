"""Knowledge-base lint: content that would teach the engine the wrong thing or show shoppers the wrong text.

A list of small checks, each yielding :class:`Finding` s that explain themselves (entry, locale, the question
or answer at fault, and why). The same checks run from ``borderless kb lint`` (with file and line) and on
every save and import in the editor (as ``warnings``).

- ``not_a_question``: a question variant the intent classifier reads as a request for a person, a complaint,
  a greeting, thanks or out-of-scope. Such a variant teaches the engine to *answer* those messages with the
  entry (the contact-hours entry used to hold "ich möchte mit einem menschen sprechen"). The classifier is
  trained without the variants it judges and their translations, so a variant cannot vouch for itself.
- ``near_duplicate``: a variant almost identical (embedding cosine) to another entry's variant: the engine
  cannot tell the two entries apart on it.
- ``empty_answer`` / ``english_ui_path`` / ``answer_language``: a locale whose answer is empty, still shows
  the English UI path ("Account > Orders > Cancel" inside a Spanish answer) or reads as another language.

Thresholds were chosen on the starter knowledge base (see docs/knowledge-base.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.knowledge.models import Entry, KnowledgeBase

log = logging.getLogger(__name__)

#: Intents that are not questions about an entry, as a finding names them.
NOT_QUESTIONS: dict[str, str] = {
    "human_request": "a request for a person",
    "complaint_urgent": "a complaint",
    "greeting": "a greeting",
    "thanks_goodbye": "thanks or goodbye",
    "out_of_scope": "out of scope",
}
#: A variant is flagged when the classifier gives one of NOT_QUESTIONS at least this probability.
#: Chosen on the starter base: its requests for a person scored 0.93-1.00, while its legitimate variants reached
#: 0.94 as a complaint ("my account is locked") and 0.93 as out-of-scope ("que ventajas tiene el nivel gold"), so
#: those two need a surer reading before a variant is called one.
NOT_A_QUESTION_MIN_P: dict[str, float] = {
    "human_request": 0.9,
    "greeting": 0.9,
    "thanks_goodbye": 0.9,
    "complaint_urgent": 0.97,
    "out_of_scope": 0.97,
}
#: Variants of one entry at least this close are translations or rewordings of one question (held out together).
TRANSLATION_COSINE = 0.8
#: Variants of different entries at least this close (cosine of passage embeddings) are near-duplicates.
#: Chosen on the starter base: its closest variants of different entries ("сколько идет доставка?" / "сколько
#: стоит доставка?", time vs cost) reach 0.975; a variant copied into another entry scores 1.0.
NEAR_DUPLICATE_COSINE = 0.98
#: The answer-language check trusts the detector only on answers this long and this sure.
ANSWER_LANGUAGE_MIN_CHARS = 40
ANSWER_LANGUAGE_MIN_CONFIDENCE = 0.9
#: ...reading only its start: enough to tell the language, and the detector's cost grows with the length.
ANSWER_LANGUAGE_SAMPLE = 300
#: Folds for the classifier that judges the variants (each trained without a third of them), and its training
#: epochs: fewer than the engine's 300, which found the same variants on the starter base in half the time.
FOLDS = 3
EPOCHS = 150


@dataclass(frozen=True)
class Finding:
    """One problem: what, where (entry, locale, question; file and line when linting files) and why."""

    check: str
    entry_id: str
    locale: str
    message: str
    question: str | None = None
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else f"{self.file}: " if self.file else ""
        return f"{where}{self.entry_id}/{self.locale}: {self.message} [{self.check}]"


class Tools(Protocol):
    """The engine parts the model-based checks read (an :class:`~bot.nlu.pipeline.AnswerEngine` has them)."""

    embedder: Any  # embed_passages(texts) -> unit vectors
    langid: Any  # detect(text) -> [LanguageGuess]
    intent_examples: dict[str, dict[str, list[str]]]


@dataclass
class LintContext:
    """The knowledge base, which entries to report on (None: all) and the engine's parts (None: skip the
    checks that need them)."""

    kb: KnowledgeBase
    tools: Tools | None = None
    only: set[str] | None = None
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def reported(self) -> list[Entry]:
        return [e for e in self.kb.entries.values() if self.only is None or e.id in self.only]

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors (the engine's cached embeddings), remembered across checks."""
        assert self.tools is not None
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self.tools.embedder.embed_passages(missing), strict=True))
        if not texts:
            return np.zeros((0, 1), np.float32)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)


class Check(Protocol):
    name: str

    def run(self, ctx: LintContext) -> Iterable[Finding]: ...


class EmptyAnswer:
    """A locale with questions but no answer: shoppers asking in it get nothing useful."""

    name = "empty_answer"

    def run(self, ctx: LintContext) -> Iterator[Finding]:
        for entry in ctx.reported():
            for loc, c in entry.locales.items():
                if c.questions and not c.answer.strip():
                    yield Finding(self.name, entry.id, loc, "the answer is empty")


def _path_words(text: str) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for m in re.finditer(r"(?=([^\s>]+) > ([^\s>]+))", text):
        pairs.add((m.group(1).strip(".,;:()"), m.group(2).strip(".,;:()")))
    return pairs


class EnglishUiPath:
    """A non-English answer that still shows the English menu path ("Account > Orders > Cancel"): the shop
    the shopper sees is in their language, so the steps cannot be followed. Compared with the entry's English
    (else default-locale) answer, step by step."""

    name = "english_ui_path"

    def run(self, ctx: LintContext) -> Iterator[Finding]:
        for entry in ctx.reported():
            ref_loc = "en" if "en" in entry.locales else ctx.kb.default_locale
            ref = entry.locales.get(ref_loc)
            if ref is None:
                continue
            english = _path_words(ref.answer)
            if not english:
                continue
            for loc, c in entry.locales.items():
                if loc == ref_loc or loc.split("-")[0] == "en":
                    continue
                copied = sorted(p for p in _path_words(c.answer) if p in english)
                if copied:
                    shown = ", ".join(sorted({m.group(0) for m in re.finditer(r"\S+(?: > \S+)+", c.answer)
                                              if any(f"{a} > {b}" in m.group(0) for a, b in copied)}))
                    yield Finding(self.name, entry.id, loc,
                                  f"the {loc} answer shows the {ref_loc} UI path {shown.rstrip('.,;:')}: "
                                  f"use the labels the {loc} shop shows")


class AnswerLanguage:
    """An answer the language detector reads, with confidence, as another language: probably untranslated."""

    name = "answer_language"

    def run(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.tools is None:
            return
        from bot.nlu.base import SUPPORTED_LOCALES

        for entry in ctx.reported():
            for loc, c in entry.locales.items():
                base = loc.split("-")[0].lower()
                if base not in SUPPORTED_LOCALES or len(c.answer) < ANSWER_LANGUAGE_MIN_CHARS:
                    continue
                guesses = ctx.tools.langid.detect(c.answer[:ANSWER_LANGUAGE_SAMPLE])
                if guesses and guesses[0].lang != base and guesses[0].confidence >= ANSWER_LANGUAGE_MIN_CONFIDENCE:
                    yield Finding(self.name, entry.id, loc,
                                  f"the {loc} answer reads as {guesses[0].lang} ({guesses[0].confidence:.2f}): "
                                  "untranslated?")


class NotAQuestion:
    """A variant the intent classifier takes for a request for a person, a complaint, small talk or
    out-of-scope. Linting files, the classifier (the engine's, trained the engine's way) never sees the
    variants it judges nor their translations: each fold holds out groups of one entry's variants that say
    the same thing in any language, so a bad variant cannot vouch for itself through its translations, while
    the entry's other variants still teach the classifier what the entry is about. In the editor, the live
    engine's classifier judges the saved variants as it would judge a shopper's message."""

    name = "not_a_question"

    def run(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.tools is None:
            return
        variants = [(e, loc, q) for e in ctx.reported() for loc, c in e.locales.items() for q in c.questions]
        if not variants:
            return
        live = getattr(ctx.tools, "classifier", None)
        if live is not None:
            vectors = ctx.vectors([q for _, _, q in variants])
            centre = getattr(ctx.tools, "centre", None)
            if centre is not None:
                vectors = centre(vectors, [loc.split("-")[0] for _, loc, _ in variants])
            preds = live.predict(vectors)
            yield from self._findings(variants, preds)
            return
        from bot.nlu.intents import FAQ_PREFIX, LogisticIntentClassifier

        examples = [(t, intent) for intent, by_loc in ctx.tools.intent_examples.items() if intent in NOT_QUESTIONS
                    for texts in by_loc.values() for t in texts]
        if not examples:
            return
        fold_of = _translation_folds(ctx, variants)
        everything = [(q, FAQ_PREFIX + e.id) for e in ctx.kb.published() for c in e.locales.values()
                      for q in c.questions]
        for fold in range(FOLDS):
            held = {(e.id, q) for (e, _, q), f in zip(variants, fold_of, strict=True) if f == fold}
            if not held:
                continue
            train = examples + [(q, y) for q, y in everything if (y[len(FAQ_PREFIX):], q) not in held]
            clf = LogisticIntentClassifier(epochs=EPOCHS).fit(ctx.vectors([t for t, _ in train]), [y for _, y in train])
            judged = [v for v, f in zip(variants, fold_of, strict=True) if f == fold]
            yield from self._findings(judged, clf.predict(ctx.vectors([q for _, _, q in judged])))

    def _findings(self, variants: list[tuple[Entry, str, str]], preds: list[Any]) -> Iterator[Finding]:
        for (entry, loc, q), pred in zip(variants, preds, strict=True):
            intent = max(NOT_QUESTIONS, key=lambda i: pred.probabilities.get(i, 0.0))
            p = pred.probabilities.get(intent, 0.0)
            if p >= NOT_A_QUESTION_MIN_P[intent]:
                yield Finding(self.name, entry.id, loc,
                              f"{q!r} reads as {NOT_QUESTIONS[intent]} ({intent}, p={p:.2f}), not a question this "
                              "entry answers: shoppers who say this would get this entry's answer", question=q)


def _root(parent: list[int], a: int) -> int:
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def _translation_folds(ctx: LintContext, variants: list[tuple[Entry, str, str]]) -> list[int]:
    """A fold per variant; variants of one entry closer than TRANSLATION_COSINE (translations, rewordings)
    share a fold, by union-find over each entry's similarity matrix."""
    folds = [0] * len(variants)
    by_entry: dict[str, list[int]] = {}
    for i, (e, _, _) in enumerate(variants):
        by_entry.setdefault(e.id, []).append(i)
    group = 0
    for idx in by_entry.values():
        V = ctx.vectors([variants[i][2] for i in idx])
        parent = list(range(len(idx)))
        for a, b in zip(*np.nonzero(np.triu(V @ V.T, 1) >= TRANSLATION_COSINE), strict=True):
            parent[_root(parent, int(a))] = _root(parent, int(b))
        roots: dict[int, int] = {}
        for k, i in enumerate(idx):
            r = _root(parent, k)
            if r not in roots:
                roots[r] = group % FOLDS
                group += 1
            folds[i] = roots[r]
    return folds


class NearDuplicate:
    """A variant nearly identical to another entry's variant: the two entries compete for the same message."""

    name = "near_duplicate"

    def run(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.tools is None:
            return
        rows = [(e.id, loc, q) for e in ctx.kb.entries.values() if e.status == "published" or
                (ctx.only is not None and e.id in ctx.only) for loc, c in e.locales.items() for q in c.questions]
        if not rows:
            return
        V = ctx.vectors([q for _, _, q in rows])
        ids = np.array([r[0] for r in rows])
        judged_ids = {e.id for e in ctx.reported()}
        judged = [i for i, r in enumerate(rows) if r[0] in judged_ids]
        # Only the judged rows against all rows, in chunks: an editor save compares one entry, not all pairs.
        for start in range(0, len(judged), 512):
            chunk = judged[start : start + 512]
            sims = V[chunk] @ V.T
            sims[ids[chunk][:, None] == ids[None, :]] = -1.0  # the same entry: not a conflict
            for k, b in zip(*np.nonzero(sims >= NEAR_DUPLICATE_COSINE), strict=True):
                a = chunk[k]
                if ctx.only is None and rows[b][0] in judged_ids and b > a:
                    continue  # linting everything: report each pair once, on its later variant
                yield Finding(self.name, rows[a][0], rows[a][1],
                              f"{rows[a][2]!r} is nearly the same as {rows[b][0]}/{rows[b][1]} {rows[b][2]!r} "
                              f"(cosine {sims[k, b]:.3f}): the engine cannot tell the two entries apart on it",
                              question=rows[a][2])


DEFAULT_CHECKS: tuple[Check, ...] = (EmptyAnswer(), EnglishUiPath(), AnswerLanguage(), NotAQuestion(),
                                     NearDuplicate())


@dataclass
class EngineTools:
    """The engine's embedder, language detector and intent examples, without building an index or training."""

    embedder: Any
    langid: Any
    intent_examples: dict[str, dict[str, list[str]]]
    #: The live engine's trained classifier (editor); None: train one per fold (files).
    classifier: Any = None
    #: How the live engine turns variant vectors into its classifier's inputs (language centring, if on).
    centre: Any = None

    @classmethod
    def from_engine(cls, engine: Any) -> EngineTools:
        centre = getattr(getattr(engine, "knowledge", None), "centre", None)
        return cls(engine.embedder, engine.langid, engine.intent_examples, engine.snapshot().classifier, centre)

    @classmethod
    def from_settings(cls, settings: Any, kb_path: Path | None = None) -> EngineTools:
        from bot.knowledge import files
        from bot.nlu.embedders import EMBEDDERS, CachedEmbedder
        from bot.nlu.langid import get_language_identifier

        kb_path = Path(kb_path or settings.kb_path)
        # As build_engine: a folder brings its own intents/, a CSV uses the bundled starter base's.
        intent_dir = kb_path if (kb_path / "intents").is_dir() else files.STARTER_KB
        inner = EMBEDDERS.create(settings.embedder, model=settings.embedder_model)
        return cls(CachedEmbedder(inner, settings.models_dir / "cache"), get_language_identifier(settings.langid),
                   files.load_intents(intent_dir))


def lint(kb: KnowledgeBase, tools: Tools | None = None, only: Iterable[str] | None = None,
         checks: Sequence[Check] = DEFAULT_CHECKS) -> list[Finding]:
    """Every finding for the entries in ``only`` (default: all), judged against the whole ``kb``."""
    ctx = LintContext(kb, tools, set(only) if only is not None else None)
    findings: list[Finding] = []
    for check in checks:
        findings.extend(check.run(ctx))
    return findings


def warnings_for(entries: Sequence[Entry], engine: Any | None = None) -> list[dict[str, Any]]:
    """The editor's ``warnings`` for saved or imported ``entries``: judged against the live engine's knowledge
    base and classifier when it has them (else only the checks that need no model). Never raises: a save
    must not fail because a warning could not be computed."""
    try:
        tools = None
        kb = KnowledgeBase()
        if engine is not None and all(hasattr(engine, a) for a in ("embedder", "langid", "snapshot", "kb")):
            tools = EngineTools.from_engine(engine)
            live_kb = engine.kb
            kb = KnowledgeBase(entries=dict(live_kb.entries), default_locale=live_kb.default_locale)
        for entry in entries:
            # Judged as if published: a draft's variants are about to teach the engine.
            kb.entries[entry.id] = Entry(entry.id, entry.locales, entry.topic, "published")
        return [f.to_json() for f in lint(kb, tools, only=[e.id for e in entries])]
    except Exception:
        log.exception("kb lint failed; saving without warnings")
        return []
