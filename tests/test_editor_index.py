"""The segmented, copy-on-write vector index (no models needed)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from editor_support import REPO  # noqa: F401  (puts the repository on sys.path)

from bot.knowledge.models import Variant
from bot.nlu.index import VectorIndex


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute(truth: dict[str, tuple[list[Variant], np.ndarray]], q: np.ndarray, k: int) -> list[str]:
    scored = [(float(x @ q), v.question) for vs, xs in truth.values() for v, x in zip(vs, xs, strict=True)]
    return [text for _, text in sorted(scored, key=lambda s: (-s[0], s[1]))[:k]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_copy_on_write_updates_match_a_brute_force_search(seed: int) -> None:
    rng, rnd, dim = np.random.default_rng(seed), random.Random(seed), 16
    truth: dict[str, tuple[list[Variant], np.ndarray]] = {}
    first_v: list[Variant] = []
    first_x: list[np.ndarray] = []
    for e in range(60):
        n = rnd.randint(1, 8)
        vs, xs = [Variant(f"e{e}", "en", f"e{e}-q{j}") for j in range(n)], _unit(rng, n, dim)
        truth[f"e{e}"] = (vs, xs)
        first_v += vs
        first_x.append(xs)
    index = VectorIndex(dim)
    index.add(first_v, np.concatenate(first_x))
    for step in range(300):
        faq_id = f"e{rnd.randint(0, 80)}"
        before_len, before_ids = len(index), index.entry_ids()
        probe = _unit(rng, 1, dim)[0]
        before_hits = [h.question for h in index.search(probe, 10)]
        new = index.copy()
        if rnd.random() < 0.3:
            new.remove_entry(faq_id)
            truth.pop(faq_id, None)
        else:
            n = rnd.randint(1, 8)
            vs, xs = [Variant(faq_id, "es", f"{faq_id}-s{step}-{j}") for j in range(n)], _unit(rng, n, dim)
            new.replace_entry(faq_id, vs, xs)
            truth[faq_id] = (vs, xs)
        # the old index is untouched (readers holding it keep consistent answers)
        assert len(index) == before_len and index.entry_ids() == before_ids
        assert [h.question for h in index.search(probe, 10)] == before_hits
        index = new
        q = _unit(rng, 1, dim)[0]
        assert [h.question for h in index.search(q, 10)] == _brute(truth, q, 10)
        assert len(index) == sum(len(v[0]) for v in truth.values())
        assert index.entry_ids() == set(truth)
    assert index.segments <= 9  # small segments get merged
    assert sorted(v.question for v in index.variants()) == sorted(v.question for vs, _ in truth.values() for v in vs)


def test_removing_every_row_of_a_segment_and_searching_an_empty_index() -> None:
    index = VectorIndex(4)
    assert index.search(np.ones(4, dtype=np.float32), 5) == []
    index.add([Variant("a", "en", "x")], np.eye(4, dtype=np.float32)[:1])
    assert index.remove_entry("a") == 1 and len(index) == 0 and index.segments == 0
    assert index.search(np.ones(4, dtype=np.float32), 5) == []
    assert index.remove_entry("missing") == 0
