"""The on-disk embedding cache: embedding new text never waits for the file, and the file still gets every vector."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.nlu import embedders
from bot.nlu.embedders import CachedEmbedder
from bot.settings import REPO_ROOT


class CountingEmbedder:
    name, dim = "counting", 4

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        out = np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embed_queries = embed_passages = _embed


def _cache_file(cache_dir: Path) -> Path:
    return cache_dir / "embeddings-counting.npz"


def test_embedding_returns_before_the_write_and_flush_persists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedders, "SAVE_DEBOUNCE_SECONDS", 60.0)
    emb = CachedEmbedder(CountingEmbedder(), tmp_path)
    first = emb.embed_passages(["where is my order", "refunds"])
    assert not _cache_file(tmp_path).exists()  # the write is left to the background writer
    emb.flush()
    assert _cache_file(tmp_path).exists() and not list(tmp_path.glob("*.tmp.npz"))

    inner = CountingEmbedder()
    again = CachedEmbedder(inner, tmp_path).embed_passages(["refunds", "where is my order"])
    assert inner.embedded == []  # both came from the file
    np.testing.assert_array_equal(again, first[::-1])


def test_a_burst_of_embeds_shares_one_background_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedders, "SAVE_DEBOUNCE_SECONDS", 0.2)
    emb = CachedEmbedder(CountingEmbedder(), tmp_path)
    writes: list[int] = []
    write = emb._write

    def counted() -> None:
        writes.append(1)
        write()

    monkeypatch.setattr(emb, "_write", counted)
    for i in range(10):
        emb.embed_passages([f"question {i}"])
    deadline = time.monotonic() + 10
    while not _cache_file(tmp_path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(writes) == 1
    keys = np.load(_cache_file(tmp_path))["keys"]
    assert len(keys) == 10


def test_concurrent_embeds_and_flushes_lose_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedders, "SAVE_DEBOUNCE_SECONDS", 0.01)
    emb = CachedEmbedder(CountingEmbedder(), tmp_path)

    def embed(k: int) -> None:
        for i in range(50):
            emb.embed_passages([f"thread {k} text {i}"])
            if i % 10 == 0:
                emb.flush()

    threads = [threading.Thread(target=embed, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    emb.flush()
    inner = CountingEmbedder()
    CachedEmbedder(inner, tmp_path).embed_passages([f"thread {k} text {i}" for k in range(4) for i in range(50)])
    assert inner.embedded == []


def test_unsaved_vectors_are_written_at_interpreter_exit(tmp_path: Path) -> None:
    script = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from bot.nlu.embedders import CachedEmbedder\n"
        "class E:\n"
        "    name, dim = 'counting', 4\n"
        "    def embed_passages(self, texts):\n"
        "        return np.ones((len(texts), 4), np.float32) / 2\n"
        "CachedEmbedder(E(), Path(sys.argv[1])).embed_passages(['a', 'b'])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO_ROOT, check=True, timeout=60)
    assert len(np.load(_cache_file(tmp_path))["keys"]) == 2
