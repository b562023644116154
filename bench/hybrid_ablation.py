"""Does lexical (BM25) scoring on top of the vector index help? Measured, then removed from the product.

Ranks entries three ways on the dev and held-out sets: the vector index alone, the
shipped fusion (index + intent classifier), and that fusion with BM25 added to each
entry's cosine (weight 0.1, the value we tried first; see --weights). Prints top-1 entry accuracy
on the FAQ questions. The hybrid lost on dev, so the product has no lexical scorer
(docs/benchmarks.md).

    python bench/hybrid_ablation.py [--weights 0.05 0.1 0.2]
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench._common import REPO, markdown_table  # noqa: E402
from bot.evaluation import load_cases  # noqa: E402
from bot.knowledge.models import Variant  # noqa: E402
from bot.nlu.index import aggregate  # noqa: E402
from bot.nlu.pipeline import build_engine, fuse  # noqa: E402
from bot.settings import Settings  # noqa: E402

_TOKEN = re.compile(r"\w+", re.UNICODE)


def lexical_tokens(text: str) -> list[str]:
    """Lowercased, accent-stripped word tokens; CJK runs become character bigrams."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        if any("\u3040" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in tok):
            out.extend(tok[i : i + 2] for i in range(max(1, len(tok) - 1)))
        else:
            out.append(tok)
    return out


class LexicalScorer:
    """BM25 over the same variants, aggregated per entry; the lexical side of the hybrid we measured.

    Documents are grouped per entry so :meth:`with_entry` can derive a scorer for one changed
    entry without re-tokenising the rest (document frequencies are updated, idf is computed
    per query term).
    """

    def __init__(self, variants: Sequence[Variant] = (), k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._docs: dict[str, tuple[Counter[str], ...]] = {}
        grouped: dict[str, list[Counter[str]]] = {}
        for v in variants:
            grouped.setdefault(v.faq_id, []).append(Counter(lexical_tokens(v.question)))
        self._df: Counter[str] = Counter()
        self._n = 0
        self._total = 0
        for faq_id, docs in grouped.items():
            self._put(faq_id, tuple(docs))

    def _put(self, faq_id: str, docs: tuple[Counter[str], ...]) -> None:
        self._docs[faq_id] = docs
        for c in docs:
            self._df.update(c.keys())
            self._n += 1
            self._total += sum(c.values())

    def _drop(self, faq_id: str) -> None:
        for c in self._docs.pop(faq_id, ()):
            self._df.subtract(c.keys())
            self._n -= 1
            self._total -= sum(c.values())

    def with_entry(self, faq_id: str, variants: Sequence[Variant]) -> LexicalScorer:
        """A new scorer where ``faq_id`` has exactly ``variants`` (none: removed); this one is unchanged."""
        other = LexicalScorer(k1=self.k1, b=self.b)
        other._docs, other._df, other._n, other._total = dict(self._docs), Counter(self._df), self._n, self._total
        other._drop(faq_id)
        if variants:
            other._put(faq_id, tuple(Counter(lexical_tokens(v.question)) for v in variants))
        return other

    def scores(self, text: str) -> dict[str, float]:
        n = self._n
        terms = [t for t in lexical_tokens(text) if self._df.get(t, 0) > 0]
        best: dict[str, float] = {}
        if not terms:
            return best
        idf = {t: math.log(1 + (n - self._df[t] + 0.5) / (self._df[t] + 0.5)) for t in set(terms)}
        avgdl = self._total / max(1, n)
        for faq_id, docs in self._docs.items():
            for counts in docs:
                dl = sum(counts.values())
                s = 0.0
                for t in terms:
                    f = counts.get(t)
                    if f:
                        s += idf[t] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * dl / avgdl))
                if s > best.get(faq_id, 0.0):
                    best[faq_id] = s
        top = max(best.values(), default=0.0)
        return {k: v / top for k, v in best.items()} if top else best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=float, nargs="*", default=[0.05, 0.1, 0.2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    engine = build_engine(settings)
    state = engine.snapshot()
    lexical = LexicalScorer(list(state.kb.variants()))
    rows = []
    for name in ("dev", "heldout"):
        cases = [c for c in load_cases(REPO / f"bench/data/{name}.jsonl") if c.faq_id]
        correct: Counter[str] = Counter()
        for case in cases:
            query = engine.embedder.embed_queries([case.text])[0]
            intent = state.classifier.predict(query)[0]
            entries = aggregate(state.index.search(query, k=40))
            sims = np.array([e.similarity for e in entries])
            correct["index only"] += entries[0].faq_id == case.faq_id
            fused = fuse(list(entries), sims, intent, settings.fusion_weight, settings.fusion_temperature)
            correct["index + classifier (shipped)"] += fused[0].faq_id == case.faq_id
            lex = lexical.scores(case.text)
            for w in args.weights:
                boosted = sims + w * np.array([lex.get(e.faq_id, 0.0) for e in entries])
                top = fuse(list(entries), boosted, intent, settings.fusion_weight, settings.fusion_temperature)[0]
                correct[f"+ BM25 x{w}"] += top.faq_id == case.faq_id
        for method, n in correct.items():
            rows.append([name, method, 100.0 * n / len(cases)])
    print(markdown_table(["set", "ranking", "top-1 entry accuracy %"], rows))


if __name__ == "__main__":
    main()
