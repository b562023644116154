"""Does "that didn't help" after an answer reach a person?

Each line of a feedback set (``bench/data/feedback_dev.jsonl``, ``feedback_test.jsonl``: shoppers saying the
bot's answer did not help, in 15 languages, written apart from the intent examples) is sent right after an
answered question in the same language ("Where is my order?" and its translations), as a shopper sends it. The
table gives, per file: handed off (what the line wants), answered with an entry (the failure that matters: the
bot answers a complaint about its answer with another FAQ answer), clarified, declined; and the same line sent as
a first message.

    python bench/feedback.py [FILE...] [--errors N]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import markdown_table  # noqa: E402
from bench._sets import pct  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.pipeline import build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402

DATA = Path(__file__).parent / "data"
#: The question each conversation opens with (answered with order-tracking in every language).
OPENING = {
    "en": "Where is my order?", "es": "¿Dónde está mi pedido?", "fr": "Où est ma commande ?",
    "de": "Wo ist meine Bestellung?", "pt": "Onde está minha encomenda?", "it": "Dov'è il mio ordine?",
    "nl": "Waar is mijn bestelling?", "zh": "我的订单在哪里？", "ja": "注文はどこですか？",
    "ko": "제 주문 어디 있어요?", "ru": "Где мой заказ?", "ar": "أين طلبي؟", "lv": "Kur ir mans pasūtījums?",
    "pl": "Gdzie jest moje zamówienie?", "tr": "Siparişim nerede?",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, default=[DATA / "feedback_dev.jsonl"])
    parser.add_argument("--errors", type=int, default=0, help="list up to N lines not handed off after an answer")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = build_engine(Settings())
    rows = []
    for path in args.files:
        lines = [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]
        after = {"handoff": 0, "answer": 0, "clarify": 0, "decline": 0}
        first_handoff = opened = shown = 0
        for row in lines:
            ctx = ConversationContext()
            opened += engine.respond(OPENING[row["lang"]], ctx).action == "answer"
            d = engine.respond(row["text"], ctx)
            after[d.action] += 1
            if d.action != "handoff" and shown < args.errors:
                shown += 1
                print(f"  [{row['lang']}] {row['text']!r}: {d.action}/{d.faq_id} ({d.reason} {d.confidence:.2f})")
            first_handoff += engine.respond(row["text"], ConversationContext()).action == "handoff"
        n = len(lines)
        rows.append([path.name, n, pct(opened, n), *(pct(after[a], n) for a in after), pct(first_handoff, n)])
    print(markdown_table(["file", "n", "opening answered %", "handed off %", "answered with an entry %",
                          "clarified %", "declined %", "as a first message: handed off %"], rows))


if __name__ == "__main__":
    main()
