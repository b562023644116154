"""The vector index over every question variant of every locale (faiss).

Variants of all locales live in one index, so a Latvian question can land on a
variant written in English. Scores are aggregated per entry (best variant wins).

The index is a list of immutable *segments* (faiss flat indexes) plus, per
segment, the rows that were removed since it was built. Replacing one entry adds
a small segment and marks the entry's old rows dead; :meth:`VectorIndex.copy`
shares the segments, so a copy-on-write update of one entry costs about the
size of that entry, not of the whole index. Small segments are merged and
segments with many dead rows are rebuilt as they accumulate (amortised, rare).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import faiss
import numpy as np

from bot.knowledge.models import Variant
from bot.nlu.base import Hit

#: Merge the smallest segments once there are more than this many.
MAX_SEGMENTS = 8
#: Rebuild a segment once this share of its rows is dead (and at least MIN_DEAD_TO_COMPACT rows).
MAX_DEAD_FRACTION = 0.2
MIN_DEAD_TO_COMPACT = 64


@dataclass
class EntryScore:
    """One entry's score (cosine of its best variant, or a probability once fused) and that variant."""

    faq_id: str
    score: float
    best: Hit

    @property
    def similarity(self) -> float:
        return self.best.score


class _Segment:
    """An immutable block of variants: a faiss flat inner-product index over their vectors."""

    __slots__ = ("index", "rows_by_entry", "variants", "vectors")

    def __init__(self, variants: Sequence[Variant], vectors: np.ndarray) -> None:
        self.variants: tuple[Variant, ...] = tuple(variants)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        self.index.add(self.vectors)
        rows: dict[str, list[int]] = {}
        for i, v in enumerate(self.variants):
            rows.setdefault(v.faq_id, []).append(i)
        self.rows_by_entry: dict[str, tuple[int, ...]] = {k: tuple(r) for k, r in rows.items()}

    def __len__(self) -> int:
        return len(self.variants)


class _View:
    """A segment as one index version sees it: which of its rows are dead, and a faiss selector for the rest."""

    __slots__ = ("dead", "params", "segment")

    def __init__(self, segment: _Segment, dead: frozenset[int] = frozenset()) -> None:
        self.segment = segment
        self.dead = dead
        # Always search through a selector: besides skipping dead rows, it keeps a single query on one
        # thread, which measured several times faster than faiss's OpenMP fan-out on small machines.
        excluded = np.fromiter(dead, dtype=np.int64, count=len(dead)) if dead else np.array([-1], dtype=np.int64)
        self.params = faiss.SearchParameters(sel=faiss.IDSelectorNot(faiss.IDSelectorBatch(excluded)))

    @property
    def live(self) -> int:
        return len(self.segment) - len(self.dead)

    def live_rows(self) -> np.ndarray:
        mask = np.ones(len(self.segment), dtype=bool)
        if self.dead:
            mask[np.fromiter(self.dead, dtype=np.int64, count=len(self.dead))] = False
        return np.flatnonzero(mask)


class VectorIndex:
    """Exact inner-product search over segmented faiss flat indexes, with per-entry replace and cheap copies.

    Mutating methods (``add``, ``remove_entry``, ``replace_entry``) change this object; the answer
    engine never mutates a published index: it mutates a :meth:`copy` and swaps the reference.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._views: list[_View] = []
        #: faq_id -> the segments holding its live rows (an entry usually lives in one segment).
        self._where: dict[str, tuple[_Segment, ...]] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return sum(v.live for v in self._views)

    @property
    def segments(self) -> int:
        """How many segments the index has (for tests and logs)."""
        return len(self._views)

    def copy(self) -> VectorIndex:
        """An independent index sharing this one's immutable segments (cost: the entry map, not the vectors)."""
        with self._lock:
            other = VectorIndex(self.dim)
            other._views = list(self._views)
            other._where = dict(self._where)
            return other

    def add(self, variants: Sequence[Variant], vectors: np.ndarray) -> None:
        if len(variants) != len(vectors):
            raise ValueError("variants and vectors differ in length")
        if not len(variants):
            return
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(variants), self.dim)
        with self._lock:
            segment = _Segment(variants, vectors)
            self._views.append(_View(segment))
            for faq_id in segment.rows_by_entry:
                self._where[faq_id] = (*self._where.get(faq_id, ()), segment)
            if len(self._views) > MAX_SEGMENTS:
                self._merge_small()

    def remove_entry(self, faq_id: str) -> int:
        """Mark every variant of ``faq_id`` dead; returns how many were removed."""
        with self._lock:
            segments = self._where.pop(faq_id, ())
            removed = 0
            for seg in segments:
                pos = next(i for i, v in enumerate(self._views) if v.segment is seg)
                view = self._views[pos]
                rows = seg.rows_by_entry[faq_id]
                removed += len(rows)
                dead = view.dead | frozenset(rows)
                if len(dead) == len(seg):
                    del self._views[pos]
                elif len(dead) >= max(MIN_DEAD_TO_COMPACT, MAX_DEAD_FRACTION * len(seg)):
                    self._rebuild(pos, dead)
                else:
                    self._views[pos] = _View(seg, dead)
            return removed

    def replace_entry(self, faq_id: str, variants: Sequence[Variant], vectors: np.ndarray) -> None:
        with self._lock:
            self.remove_entry(faq_id)
            self.add(variants, vectors)

    def search(self, query: np.ndarray, k: int = 30) -> list[Hit]:
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            views = list(self._views)
        found: list[tuple[float, Variant]] = []
        for view in views:
            kk = min(k, view.live)
            if kk <= 0:
                continue
            scores, ids = view.segment.index.search(q, kk, params=view.params)
            for s, i in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
                if i >= 0:
                    found.append((float(s), view.segment.variants[i]))
        found.sort(key=lambda x: -x[0])
        return [Hit(v.faq_id, v.locale, v.question, s) for s, v in found[:k]]

    def entry_ids(self) -> set[str]:
        return set(self._where)

    def variants(self) -> Iterator[Variant]:
        """Every live variant (segment order)."""
        for view in list(self._views):
            dead = view.dead
            for i, v in enumerate(view.segment.variants):
                if i not in dead:
                    yield v

    # ------------------------------------------------------------------ maintenance
    def _rebuild(self, pos: int, dead: frozenset[int]) -> None:
        """Replace segment ``pos`` by one holding only its live rows."""
        old = self._views[pos].segment
        keep = _View(old, dead).live_rows()
        seg = _Segment([old.variants[i] for i in keep.tolist()], old.vectors[keep])
        self._views[pos] = _View(seg)
        self._relink(old, [seg])

    def _merge_small(self) -> None:
        """Merge the smallest segments (size-tiered: each merged one at most about the size of the rest merged).

        Like a binary counter, a row takes part in O(log n) merges, so the amortised cost of one
        entry update stays about the size of that entry.
        """
        order = sorted(range(len(self._views)), key=lambda i: self._views[i].live)
        chosen = order[:2]
        total = sum(self._views[i].live for i in chosen)
        for i in order[2:-1]:
            if self._views[i].live > total:
                break
            chosen.append(i)
            total += self._views[i].live
        small = [self._views[i] for i in chosen]
        variants: list[Variant] = []
        blocks: list[np.ndarray] = []
        for view in small:
            rows = view.live_rows()
            variants.extend(view.segment.variants[i] for i in rows.tolist())
            blocks.append(view.segment.vectors[rows])
        keep = [v for i, v in enumerate(self._views) if i not in chosen]
        merged = _Segment(variants, np.concatenate(blocks)) if variants else None
        self._views = keep + ([_View(merged)] if merged is not None else [])
        for view in small:
            self._relink(view.segment, [merged] if merged is not None else [])

    def _relink(self, old: _Segment, new: list[_Segment]) -> None:
        for faq_id in old.rows_by_entry:
            where = self._where.get(faq_id)
            if where is None or old not in where:
                continue
            rest = tuple(s for s in where if s is not old)
            added = tuple(s for s in new if faq_id in s.rows_by_entry and s not in rest)
            self._where[faq_id] = rest + added


def aggregate(hits: Sequence[Hit]) -> list[EntryScore]:
    """Best-scoring variant per entry, entries ordered by score."""
    best: dict[str, Hit] = {}
    for h in hits:
        if h.faq_id not in best or h.score > best[h.faq_id].score:
            best[h.faq_id] = h
    return sorted((EntryScore(k, h.score, h) for k, h in best.items()), key=lambda e: -e.score)
