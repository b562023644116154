"""Speed of the answer engine: model load, per-message latency, throughput, memory, index build.

    python bench/speed.py [--messages 300] [--sizes 10000 100000]

Latency is measured on the held-out messages (15 languages), one message at a time,
after a warm-up. Index build at 10k/100k variants measures the faiss index and the
intent classifier on synthetic variants (real knowledge base vectors with noise), and
projects the embedding time from the measured embedding throughput, since embedding
100k texts on 2 cores takes about half an hour and is cached after the first time.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bench._common import REPO, markdown_table, peak_rss_mb  # noqa: E402
from bot.evaluation import load_cases  # noqa: E402
from bot.knowledge.models import Variant  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.index import VectorIndex  # noqa: E402
from bot.nlu.intents import MAX_ENTRY_CLASSES, LogisticIntentClassifier  # noqa: E402
from bot.nlu.pipeline import build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    started = time.perf_counter()
    engine = build_engine(Settings())
    engine.langid.detect("warm up the language model")
    load_s = time.perf_counter() - started
    texts = [c.text for c in load_cases(REPO / "bench/data/heldout.jsonl")][: args.messages]
    for t in texts[:10]:
        engine.respond(t)

    latencies = []
    for t in tqdm(texts, desc="latency", unit="msg"):
        t0 = time.perf_counter()
        engine.respond(t, ConversationContext())
        latencies.append((time.perf_counter() - t0) * 1000)
    serial_rate = len(texts) / (sum(latencies) / 1000)

    def worker(chunk: list[str]) -> None:
        for t in chunk:
            engine.respond(t, ConversationContext())

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(texts[i::2],)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    threaded_rate = len(texts) / (time.perf_counter() - t0)

    sample = [f"{t} #{i}" for i, t in enumerate(texts[:200])]
    t0 = time.perf_counter()
    engine.embedder.inner.embed_passages(sample)
    embed_rate = len(sample) / (time.perf_counter() - t0)

    rows = [
        ["engine load (embedder, language ID, KB index, classifier from cache)", f"{load_s:.1f} s"],
        ["latency p50 / p95 (one message, warm)", f"{pct(latencies, 50):.1f} / {pct(latencies, 95):.1f} ms"],
        ["throughput, 1 thread", f"{serial_rate:.0f} msg/s"],
        ["throughput, 2 threads", f"{threaded_rate:.0f} msg/s"],
        ["embedding throughput (batch)", f"{embed_rate:.0f} texts/s"],
        ["peak memory (RSS)", f"{peak_rss_mb():.0f} MiB"],
    ]
    print(markdown_table(["measure", "value"], rows))

    base = engine.embedder.embed_passages([v.question for v in engine.kb.variants()], progress=False)
    rng = np.random.default_rng(0)
    build_rows = []
    for n in args.sizes:
        entries = max(1, n // 20)
        vecs = base[rng.integers(0, len(base), n)] + rng.normal(0, 0.02, (n, base.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        variants = [Variant(f"entry-{i % entries}", "en", f"q{i}") for i in range(n)]
        t0 = time.perf_counter()
        index = VectorIndex(base.shape[1])
        index.add(variants, vecs)
        index_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(20):
            index.search(vecs[0])
        search_ms = (time.perf_counter() - t0) / 20 * 1000
        labels = [f"faq:{v.faq_id}" if entries <= MAX_ENTRY_CLASSES else "faq_question" for v in variants]
        labels[: n // 50] = ["greeting"] * (n // 50)
        t0 = time.perf_counter()
        LogisticIntentClassifier().fit(vecs, labels)
        clf_s = time.perf_counter() - t0
        build_rows.append([f"{n:,}", f"{n / embed_rate / 60:.1f} min (projected)", f"{index_s:.2f} s",
                           f"{search_ms:.2f} ms", f"{clf_s:.1f} s"])
    print()
    print(markdown_table(["variants", "embedding (first time)", "faiss index build", "search (k=40)",
                          "classifier training"], build_rows))
    print(f"\nmedian latency {statistics.median(latencies):.1f} ms; peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
