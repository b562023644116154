"""The starter intent examples are written apart from the bench sets, and cover requests for a person.

A bench line copied into knowledge_base/intents would make the bench measure memory, not the engine
(issue 7). A language has only a handful of ways to say hello or thanks, so greeting and thanks examples
of one or two words may coincide with a bench message; nothing else may, after normalisation.
"""

from __future__ import annotations

import json
import re

from bot.knowledge import files
from bot.nlu.normalise import normalise
from bot.settings import REPO_ROOT

LANGUAGES = {"en", "es", "fr", "de", "pt", "it", "nl", "zh", "ja", "ko", "ru", "ar", "lv", "pl", "tr"}
SMALL_TALK = ("greeting", "thanks_goodbye")


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", normalise(text, fold_accents=True)))


def _bench_lines() -> set[str]:
    lines: set[str] = set()
    for path in sorted((REPO_ROOT / "bench" / "data").glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                lines.add(_key(json.loads(line)["text"]))
    return lines


def test_intent_examples_are_not_bench_lines():
    bench = _bench_lines()
    assert len(bench) > 1000  # the sets are there (a wrong path would make this test pass vacuously)
    copied = [
        (intent, lang, example)
        for intent, per_lang in files.load_intents(REPO_ROOT / "knowledge_base").items()
        for lang, examples in per_lang.items()
        for example in examples
        if _key(example) in bench and not (intent in SMALL_TALK and len(_key(example).split()) <= 2)
    ]
    assert copied == []


def test_at_least_40_requests_for_a_person_in_every_language():
    examples = files.load_intents(REPO_ROOT / "knowledge_base")["human_request"]
    assert set(examples) >= LANGUAGES
    counts = {lang: len({_key(e) for e in examples[lang]}) for lang in LANGUAGES}
    assert min(counts.values()) >= 40, counts
