"""Issue 7 dev figures in one run: held-out style, long and short messages, with engine options side by side.

For each labelled JSON-lines file and each option set it prints: right entry (an answer with the
labelled entry, or one of ``accept`` where a line lists several), handoff recall (a decline counts
for an out-of-scope line: it offers a person), wrong answers, small talk given to a topic message,
clarify and decline rates. The engine is built once; options are policy and pipeline settings
switched in place (``split_sentences``, ``close_ratio``, ``complaint_answer_threshold``, ...).
Tune on dev files only.

    python bench/issue7_dev.py FILE [FILE...] [--option "split_sentences=false"] [--errors 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import markdown_table  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.pipeline import AnswerEngine, build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402

SMALL_TALK = ("greeting", "thanks_goodbye")


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def score(engine: AnswerEngine, rows: list[dict], errors: int) -> list[object]:
    faq = right = hand = hand_ok = wrong = topic_smalltalk = clarify = decline = 0
    shown = 0
    for row in rows:
        d = engine.respond(row["text"], ConversationContext())
        accept = set(row.get("accept") or ([row["faq_id"]] if row.get("faq_id") else []))
        ok = True
        if accept:
            faq += 1
            ok = d.action == "answer" and d.faq_id in accept
            right += ok
            wrong += d.action == "answer" and d.faq_id not in accept
            topic_smalltalk += d.reason in SMALL_TALK
        if row["expect"] == "handoff":
            hand += 1
            ok = d.action == "handoff" or (d.action == "decline" and row["intent"] == "out_of_scope")
            hand_ok += ok
            wrong += d.action == "answer"
        clarify += d.action == "clarify"
        decline += d.action == "decline"
        if not ok and shown < errors:
            shown += 1
            print(f"  - [{row['lang']}] {row['text'][:90]!r}: want {row.get('faq_id') or row['expect']}, "
                  f"got {d.action}/{d.faq_id} ({d.reason} {d.confidence:.2f})")
    n = len(rows)

    def pct(a: int, b: int) -> object:
        return round(100.0 * a / b, 1) if b else "-"

    return [pct(right, faq), pct(hand_ok, hand), pct(wrong, n), topic_smalltalk, pct(clarify, n), pct(decline, n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--option", action="append", default=[], help="name=value[,name=value] (repeatable)")
    parser.add_argument("--errors", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = build_engine(Settings())
    data = {Path(f).name: load(Path(f)) for f in args.files}
    options = [""] + args.option
    table = []
    for opt in options:
        saved = []
        for pair in filter(None, opt.split(",")):
            name, value = pair.split("=")
            target = engine.policy if hasattr(engine.policy, name) else engine.settings
            old = getattr(target, name)
            setattr(target, name, type(old)(value not in ("false", "0")) if isinstance(old, bool) else type(old)(value))
            saved.append((target, name, old))
        for fname, rows in data.items():
            print(f"{fname} [{opt or 'defaults'}]", file=sys.stderr)
            table.append([fname, opt or "defaults", len(rows), *score(engine, rows, args.errors)])
        for target, name, old in saved:
            setattr(target, name, old)
    headers = ["file", "options", "n", "right entry %", "handoff_R %", "wrong %", "topic->small talk",
               "clarify %", "decline %"]
    print(markdown_table(headers, table))


if __name__ == "__main__":
    main()
