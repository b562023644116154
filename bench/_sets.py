"""The labelled evaluation sets by split, and running an engine over them (shared by the robustness,
hard-set and single-language benches).

Dev and test are kept apart: thresholds are chosen on ``--split dev`` only; ``test`` (the default) is
what docs/benchmarks.md reports. See bench/data/README.md for how the sets were written.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench._common import REPO
from bot.evaluation import Case
from bot.nlu.base import ConversationContext, Decision
from bot.nlu.pipeline import AnswerEngine

log = logging.getLogger(__name__)
DATA = REPO / "bench" / "data"

#: ``--set`` name -> split -> file.
SETS: dict[str, dict[str, Path]] = {
    "v2": {"dev": DATA / "dev_v2.jsonl", "test": DATA / "test_v2.jsonl"},
    "heldout": {"dev": DATA / "dev.jsonl", "test": DATA / "heldout.jsonl"},
    "long": {"dev": DATA / "long_dev.jsonl", "test": DATA / "long_test.jsonl"},
    "short": {"dev": DATA / "short_dev.jsonl", "test": DATA / "short_test.jsonl"},
}
SPLITS = ("dev", "test")
SMALL_TALK = ("greeting", "thanks_goodbye")


@dataclass
class LabelledCase(Case):
    """A case plus every entry that counts as right (short topic words may mean several)."""

    accept: tuple[str, ...] = ()


def load_set(path: Path) -> list[LabelledCase]:
    out = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            faq_id = d.get("faq_id")
            accept = tuple(d.get("accept") or ([faq_id] if faq_id else []))
            out.append(
                LabelledCase(d["text"], d["lang"], d.get("intent", "faq_question"), faq_id,
                             d.get("expect", "answer"), accept)
            )
        except (json.JSONDecodeError, KeyError) as exc:
            raise ValueError(f"{path}: line {n}: {exc}") from None
    return out


class QueryMemo:
    """Wraps the engine's embedder so a bench embeds each distinct query text once, in batches, and keeps the
    vectors on disk between runs (``models/cache/bench-queries-<model>.npz``). Keyed by the exact text the
    engine asks for, so an engine that rewrites messages before embedding is measured correctly."""

    def __init__(self, inner: object, cache_dir: Path | None) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim  # type: ignore[attr-defined]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        self.path = cache_dir / f"bench-queries-{safe}.npz" if cache_dir else None
        self.memo: dict[str, np.ndarray] = {}
        self.new = 0
        if self.path and self.path.exists():
            try:
                data = np.load(self.path)
                self.memo = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
            except Exception:  # only a cache
                log.warning("ignoring unreadable %s", self.path)

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if self._key(t) not in self.memo))
        batches = range(0, len(missing), 32)
        if len(missing) > 64:
            from tqdm import tqdm

            batches = tqdm(batches, desc="embedding queries", unit="batch", leave=False)
        for start in batches:
            chunk = missing[start : start + 32]
            for t, v in zip(chunk, self.inner.embed_queries(chunk), strict=True):  # type: ignore[attr-defined]
                self.memo[self._key(t)] = v
                self.new += 1
        return np.stack([self.memo[self._key(t)] for t in texts]).astype(np.float32)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def save(self) -> None:
        if self.path and self.new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(self.memo)), vectors=np.stack(list(self.memo.values())))
            tmp.replace(self.path)
            self.new = 0


def memoise_queries(engine: AnswerEngine) -> QueryMemo:
    """Install a :class:`QueryMemo` on ``engine`` (benches only; the server embeds every message)."""
    if not isinstance(engine.embedder, QueryMemo):
        engine.embedder = QueryMemo(engine.embedder, engine.settings.models_dir / "cache")  # type: ignore[assignment]
    return engine.embedder  # type: ignore[return-value]


def decide_all(
    engine: AnswerEngine, texts: Iterable[tuple[str, str]], use_hint: bool = False, desc: str = "evaluating"
) -> list[Decision]:
    """Each ``(text, lang)`` as the first message of its own conversation, as ``bot.evaluation.evaluate`` does."""
    from tqdm import tqdm

    memo = memoise_queries(engine)
    texts = list(texts)
    # Batches embed several times faster than one message at a time and give the same vectors; an engine that
    # rewrites the text before embedding misses the memo and embeds its own text (still measured correctly).
    memo.embed_queries([t for t, _ in texts])
    out = []
    for text, lang in tqdm(texts, desc=desc, unit="msg", leave=False):
        out.append(engine.respond(text, ConversationContext(locale_hint=lang if use_hint else None)))
    memo.save()
    return out


def pct(a: float, b: float) -> float:
    return 100.0 * a / b if b else float("nan")
