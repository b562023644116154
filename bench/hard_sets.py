"""Long and short messages, per language.

Long (2-5 sentences of greeting, context and story around one question or a request for a person):
right entry % (FAQ questions answered with their entry), handoff recall (requests for a person handed off),
false handoffs % (FAQ questions handed off) and clarify %.

Short (one- or two-word topic messages such as "order", "envío", "送料"): on topic % (answered with one of the
topic's entries, or a clarify whose suggestions are all among them), small-talk replies % (a topic word
answered as a greeting or thanks: should be 0), handoffs % and, for the few real greetings and thanks words,
small talk right %.

    python bench/hard_sets.py [--split test|dev] [--only long|short] [--errors 20]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import markdown_table  # noqa: E402
from bench._sets import SETS, SMALL_TALK, SPLITS, LabelledCase, decide_all, load_set, pct  # noqa: E402
from bot.nlu.base import Decision  # noqa: E402
from bot.nlu.pipeline import build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402


def small_talk_reply(d: Decision) -> bool:
    """An answer without an entry: the greeting or thanks reply."""
    return d.action == "answer" and d.faq_id is None


def on_topic(case: LabelledCase, d: Decision) -> bool:
    if d.action == "answer":
        return d.faq_id in case.accept
    if d.action == "clarify":
        return bool(d.suggestions) and all(s.faq_id in case.accept for s in d.suggestions)
    return False


def long_rows(cases: list[LabelledCase], decisions: list[Decision]) -> tuple[list[list[object]], list[str]]:
    by: dict[str, list[tuple[LabelledCase, Decision]]] = defaultdict(list)
    errors = []
    for c, d in zip(cases, decisions, strict=True):
        by[c.lang].append((c, d))
        by["all"].append((c, d))
        ok = d.action == "handoff" if c.expect == "handoff" else d.action == "answer" and d.faq_id == c.faq_id
        if not ok:
            errors.append(f"[{c.lang}] {c.text!r}: want {c.faq_id or c.expect}, got {d.action}/{d.faq_id} ({d.reason})")
    rows = []
    for lang in [*sorted(k for k in by if k != "all"), "all"]:
        items = by[lang]
        faq = [(c, d) for c, d in items if c.faq_id]
        ho = [(c, d) for c, d in items if c.expect == "handoff"]
        rows.append([
            lang, len(items),
            round(pct(sum(d.action == "answer" and d.faq_id == c.faq_id for c, d in faq), len(faq)), 1),
            round(pct(sum(d.action == "handoff" for _, d in ho), len(ho)), 1),
            round(pct(sum(d.action == "handoff" for _, d in faq), len(faq)), 1),
            round(pct(sum(d.action == "clarify" for _, d in items), len(items)), 1),
        ])
    return rows, errors


def short_rows(cases: list[LabelledCase], decisions: list[Decision]) -> tuple[list[list[object]], list[str]]:
    by: dict[str, list[tuple[LabelledCase, Decision]]] = defaultdict(list)
    errors = []
    for c, d in zip(cases, decisions, strict=True):
        by[c.lang].append((c, d))
        by["all"].append((c, d))
        ok = small_talk_reply(d) if c.intent in SMALL_TALK else on_topic(c, d)
        if not ok:
            shown = f" [{', '.join(s.faq_id for s in d.suggestions)}]" if d.suggestions else ""
            got = f"{d.action}/{d.faq_id}{shown}"
            errors.append(f"[{c.lang}] {c.text!r}: want {'|'.join(c.accept) or c.intent}, got {got} ({d.reason})")
    rows = []
    for lang in [*sorted(k for k in by if k != "all"), "all"]:
        items = by[lang]
        topic = [(c, d) for c, d in items if c.intent not in SMALL_TALK]
        talk = [(c, d) for c, d in items if c.intent in SMALL_TALK]
        rows.append([
            lang, len(topic),
            round(pct(sum(on_topic(c, d) for c, d in topic), len(topic)), 1),
            round(pct(sum(d.action == "answer" and d.faq_id in c.accept for c, d in topic), len(topic)), 1),
            round(pct(sum(small_talk_reply(d) for _, d in topic), len(topic)), 1),
            round(pct(sum(d.action == "handoff" for _, d in topic), len(topic)), 1),
            round(pct(sum(small_talk_reply(d) for _, d in talk), len(talk)), 1),
        ])
    return rows, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--only", choices=["long", "short"])
    parser.add_argument("--hint", action="store_true", help="give each message its language as the widget's hint")
    parser.add_argument("--errors", type=int, default=0, help="also list up to N mistakes per set")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = build_engine(Settings())
    for kind in ["long", "short"] if not args.only else [args.only]:
        path = SETS[kind][args.split]
        cases = load_set(path)
        decisions = decide_all(engine, ((c.text, c.lang) for c in cases), args.hint, kind)
        if kind == "long":
            rows, errors = long_rows(cases, decisions)
            headers = ["lang", "n", "right entry %", "handoff recall %", "false handoffs %", "clarify %"]
        else:
            rows, errors = short_rows(cases, decisions)
            headers = ["lang", "topic words", "on topic %", "answered right %", "small-talk reply %",
                       "handoff %", "greeting/thanks right %"]
        print(f"\n{kind} messages, {args.split} split ({path.name}):\n")
        print(markdown_table(headers, rows))
        for line in errors[: args.errors]:
            print("- " + line)


if __name__ == "__main__":
    main()
