"""Query vectors computed ahead of their turn and handed to it once.

A chat message waits for its commit (the ack) and for the conversation's context before the engine may decide, a
few milliseconds of database work during which the model's thread is idle. The vectors depend on the text alone,
so the server embeds the message meanwhile (``AnswerEngine.prefetch``) and the turn takes them instead of
embedding again. Taken once, not a cache: a repeated question is embedded again, so nothing here changes what a
message costs, only when the work happens; and the store stays small whatever happens to a turn.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from bot.nlu.base import Embedder


class EarlyVectors:
    """A small, thread-safe hand-off of query vectors from ``put`` to the first ``embed`` of the same texts."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        with self._lock:
            self._items[tuple(texts)] = vectors
            while len(self._items) > self.capacity:  # a turn that never came (e.g. an agent took over)
                self._items.popitem(last=False)

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts``: those put early if any (removing them), else embedded now."""
        with self._lock:
            early = self._items.pop(tuple(texts), None)
        return early if early is not None else embedder.embed_queries(texts)

    def __len__(self) -> int:
        return len(self._items)
