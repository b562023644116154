"""Issue 7 dev figures in one run: held-out style, long and short messages, with engine options side by side.

For each labelled JSON-lines file and each option set it prints: right entry (an answer with the
labelled entry, or one of ``accept`` where a line lists several), on topic (that, or a clarify
offering only accepted entries), handoff recall (a decline counts for an out-of-scope line: it
offers a person), wrong answers, small talk given to a topic message, greetings and thanks that
kept their small-talk reply, clarify and decline rates, false handoffs (of the lines that did not
want one). The engine is built once (``--set`` for
build-time settings, ``--kb-locale`` for a one-language store); ``--option`` switches policy and
pipeline settings in place (``split_sentences``, ``close_ratio``, ``complaint_answer_threshold``...).
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

from bench._common import markdown_table, prefetch_embeddings  # noqa: E402
from bot.knowledge import files  # noqa: E402
from bot.knowledge.models import Entry, KnowledgeBase  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.pipeline import AnswerEngine, build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402

SMALL_TALK = ("greeting", "thanks_goodbye")


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def score(engine: AnswerEngine, rows: list[dict], errors: int) -> list[object]:
    faq = right = on_topic = hand = hand_ok = wrong = topic_smalltalk = clarify = decline = false_handoff = 0
    small_talk = small_talk_ok = 0
    shown = 0
    for row in rows:
        d = engine.respond(row["text"], ConversationContext())
        accept = set(row.get("accept") or ([row["faq_id"]] if row.get("faq_id") else []))
        ok = True
        if accept:
            faq += 1
            ok = d.action == "answer" and d.faq_id in accept
            right += ok
            # On topic: the right answer, or a clarify whose every suggestion is one of the accepted entries.
            ok = ok or (d.action == "clarify" and all(s.faq_id in accept for s in d.suggestions))
            on_topic += ok
            wrong += d.action == "answer" and d.faq_id not in accept
            topic_smalltalk += d.reason in SMALL_TALK
        if row["intent"] in SMALL_TALK:  # a real greeting or thanks must keep its small-talk reply
            small_talk += 1
            ok = d.action == "answer" and d.reason in SMALL_TALK
            small_talk_ok += ok
        if row["expect"] == "handoff":
            hand += 1
            ok = d.action == "handoff" or (d.action == "decline" and row["intent"] == "out_of_scope")
            hand_ok += ok
            wrong += d.action == "answer"
        clarify += d.action == "clarify"
        false_handoff += d.action == "handoff" and row["expect"] != "handoff"
        decline += d.action == "decline"
        if not ok and shown < errors:
            shown += 1
            print(
                f"  - [{row['lang']}] {row['text'][:90]!r}: want {row.get('faq_id') or row['expect']}, "
                f"got {d.action}/{d.faq_id} ({d.reason} {d.confidence:.2f})"
            )
    n = len(rows)

    def pct(a: int, b: int) -> object:
        return round(100.0 * a / b, 1) if b else "-"

    return [
        pct(right, faq),
        pct(on_topic, faq),
        pct(hand_ok, hand),
        pct(wrong, n),
        topic_smalltalk,
        pct(small_talk_ok, small_talk),
        pct(clarify, n),
        pct(decline, n),
        pct(false_handoff, n - hand),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--option", action="append", default=[], help="name=value[,name=value] (repeatable)")
    parser.add_argument("--errors", type=int, default=0)
    parser.add_argument("--kb-locale", help="keep only this locale of every entry (a one-language store)")
    parser.add_argument("--set", action="append", default=[], help="setting=value at build time (repeatable)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(**dict(pair.split("=", 1) for pair in args.set))
    kb = None
    if args.kb_locale:
        full = files.load(settings.kb_path)
        kb = KnowledgeBase(
            {
                e.id: Entry(e.id, {args.kb_locale: e.locales[args.kb_locale]}, e.topic)
                for e in full.entries.values()
                if args.kb_locale in e.locales
            },
            default_locale=args.kb_locale,
        )
        # A classifier artifact of its own (the shared one is keyed to the full knowledge base), the same vectors.
        models = settings.models_dir / "cache" / f"kb-{args.kb_locale}"
        models.mkdir(parents=True, exist_ok=True)
        if not (models / "cache").exists():
            (models / "cache").symlink_to(settings.models_dir / "cache")
        settings = settings.model_copy(update={"models_dir": models})
    engine = build_engine(settings, kb=kb)
    data = {Path(f).name: load(Path(f)) for f in args.files}
    prefetch_embeddings(engine, [r["text"] for rows in data.values() for r in rows])
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
    headers = [
        "file",
        "options",
        "n",
        "right entry %",
        "on topic %",
        "handoff_R %",
        "wrong %",
        "topic->small talk",
        "small talk kept %",
        "clarify %",
        "decline %",
        "false handoff %",
    ]
    print(markdown_table(headers, table))


if __name__ == "__main__":
    main()
