"""Single-language knowledge bases: a store whose FAQ is in one language, asked in all 15.

Exports the starter knowledge base with only one locale per entry (English-only, Spanish-only) as CSV, loads
it back through the CSV path (``BORDERLESS_KB_PATH=faq.csv``: the intent examples stay the bundled
multilingual ones) and asks it the FAQ questions of an evaluation set. Per question language: right entry %
(answered with the entry asked about) and false handoffs % (an FAQ question handed off).

    python bench/single_language.py [--split test|dev] [--set v2|heldout] [--bases en,es,full]
    python bench/single_language.py --latency pt --bases en     # query translation's cost per message

``full`` is the 15-language starter base itself, for reference. ``--latency LANG`` times each base answering the
questions in LANG with query translation off and on (interleaved, median of the per-message times, queries not
memoised) instead of scoring: translation only runs where the translator covers LANG -> the base's language.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import markdown_table  # noqa: E402
from bench._sets import SETS, SPLITS, decide_all, load_set, pct  # noqa: E402
from bot.knowledge import files  # noqa: E402
from bot.knowledge.models import Entry, KnowledgeBase  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.pipeline import AnswerEngine, build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402


def one_language(kb: KnowledgeBase, locale: str) -> list[Entry]:
    """Every entry that has ``locale``, with only that locale."""
    return [
        Entry(id=e.id, locales={locale: e.locales[locale]}, topic=e.topic, status=e.status)
        for e in kb.entries.values()
        if locale in e.locales
    ]


def latency(engine: AnswerEngine, texts: list[str], rounds: int = 3) -> dict[str, float]:
    """Median milliseconds per message with query translation off and on, timed alternately on one engine."""
    times: dict[bool, list[float]] = {False: [], True: []}
    for on in times:  # warm both paths (the translator loads its model on first use)
        engine.settings.query_translation = on
        engine.respond(texts[0], ConversationContext())
    for _ in range(rounds):
        for text in texts:
            for on in times:
                engine.settings.query_translation = on
                started = time.perf_counter()
                engine.respond(text, ConversationContext())
                times[on].append(1000 * (time.perf_counter() - started))
    engine.settings.query_translation = True
    return {"off": statistics.median(times[False]), "on": statistics.median(times[True])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--set", choices=["v2", "heldout"], default="v2")
    parser.add_argument("--bases", default="en,es", help="comma-separated locales to export alone, or full")
    parser.add_argument("--errors", type=int, default=0, help="also list up to N mistakes per base")
    parser.add_argument("--latency", metavar="LANG", help="time the questions in LANG, translation off vs on")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    path = SETS[args.set][args.split]
    cases = [c for c in load_set(path) if c.faq_id]
    starter = files.load_folder(Settings().kb_path)
    langs = sorted({c.lang for c in cases})
    headers, columns = ["lang", "n"], []
    with tempfile.TemporaryDirectory() as tmp:
        for base in [b.strip() for b in args.bases.split(",") if b.strip()]:
            settings = Settings()
            if base != "full":
                csv_path = Path(tmp) / f"faq-{base}.csv"
                csv_path.write_text(files.to_csv(one_language(starter, base), with_title=True), "utf-8")
                settings = Settings(kb_path=csv_path)
            engine = build_engine(settings)
            if args.latency:
                texts = [c.text for c in cases if c.lang == args.latency]
                ms = latency(engine, texts)
                print(
                    f"{base} base, {len(texts)} {args.latency} questions: median ms per message "
                    f"translation off {ms['off']:.1f}, on {ms['on']:.1f} ({ms['on'] / ms['off']:.2f}x)"
                )
                continue
            decisions = decide_all(engine, ((c.text, c.lang) for c in cases), desc=f"{base} base")
            col: dict[str, tuple[float, float]] = {}
            for lang in [*langs, "all"]:
                pairs = [(c, d) for c, d in zip(cases, decisions, strict=True) if lang in ("all", c.lang)]
                right = sum(d.action == "answer" and d.faq_id == c.faq_id for c, d in pairs)
                handoffs = sum(d.action == "handoff" for _, d in pairs)
                col[lang] = (round(pct(right, len(pairs)), 1), round(pct(handoffs, len(pairs)), 1))
            columns.append(col)
            label = "15 languages" if base == "full" else f"{base}-only"
            headers += [f"{label} right %", f"{label} false handoffs %"]
            shown = 0
            for c, d in zip(cases, decisions, strict=True):
                if not (d.action == "answer" and d.faq_id == c.faq_id) and shown < args.errors:
                    shown += 1
                    print(f"- {base} base [{c.lang}] {c.text!r}: want {c.faq_id}, got {d.action}/{d.faq_id}")
    if args.latency:
        return
    rows = []
    for lang in [*langs, "all"]:
        n = sum(1 for c in cases if lang in ("all", c.lang))
        rows.append([lang, n, *(v for col in columns for v in col[lang])])
    print(f"\nFAQ questions of {path.name} ({args.split} split) against one-language exports of the starter base:\n")
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
