"""Language-neutral embeddings: remove each language's mean vector before comparing texts.

Multilingual sentence embeddings carry a strong "which language is this" component, so a Spanish
question sits closer to unrelated Spanish text than to the English variant that means the same.
Subtracting a per-language mean (Libovický et al. 2020, "On the language neutrality of pre-trained
multilingual representations") removes most of it. The means are estimated from the multilingual
intent examples bundled with the package (every supported language has them), so they depend
neither on which languages a store's FAQ is written in nor on a store's own intent examples; an
entry created in the editor goes through the same path and benefits the same way. ``strength``
scales the subtraction (0 = off); chosen on dev (docs/benchmarks.md). Centring serves questions
in another language than the FAQ's; KnowledgeState.index_for ranks same-language ones uncentred.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np


class LanguageCentering:
    """Per-language mean vectors and the projection that removes them."""

    def __init__(self, means: dict[str, np.ndarray], strength: float) -> None:
        self.means = {lang: m.astype(np.float32) for lang, m in means.items()}
        self.strength = strength
        h = hashlib.sha256(f"{strength}".encode())
        for lang in sorted(self.means):
            h.update(lang.encode() + self.means[lang].tobytes())
        #: Part of the classifier's training fingerprint: other means, other classifier.
        self.signature = h.hexdigest()[:12]

    @classmethod
    def estimate(
        cls,
        embed: Callable[[Sequence[str]], np.ndarray],
        examples: dict[str, dict[str, list[str]]],
        strength: float,
        min_examples: int = 20,
    ) -> LanguageCentering:
        """Means over every intent's examples per language (languages with fewer than ``min_examples`` skipped)."""
        by_lang: dict[str, list[str]] = {}
        for by_locale in examples.values():
            for lang, texts in by_locale.items():
                by_lang.setdefault(lang, []).extend(texts)
        means = {
            lang: embed(texts).mean(axis=0) for lang, texts in sorted(by_lang.items()) if len(texts) >= min_examples
        }
        return cls(means, strength)

    def apply(self, vectors: np.ndarray, langs: Sequence[str | None]) -> np.ndarray:
        """``vectors`` (one row per text, unit norm) minus their language's mean, renormalised.

        A language without a mean is left as it is.
        """
        out = np.array(vectors, dtype=np.float32, copy=True)
        for i, lang in enumerate(langs):
            mean = self.means.get(lang or "")
            if mean is not None:
                out[i] -= self.strength * mean
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
