"""Requests for a person per language and case: handoff recall of every ``human_request`` line.

Each request (and each request wrapped in a long message) is asked as written, lower-cased,
Capitalised and SHOUTED (bench/robustness.py's perturbations); a handoff is a hit. Prints one row
per language and one for all. Tune on dev files only.

    python bench/person_requests.py bench/data/dev_v2.jsonl bench/data/long_dev.jsonl [--errors 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import markdown_table, prefetch_embeddings  # noqa: E402
from bench.robustness import capitalised, lower, shouted  # noqa: E402
from bot.nlu.base import ConversationContext  # noqa: E402
from bot.nlu.pipeline import build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402

CASES = {"as written": lambda t: t, "lower": lower, "Capitalised": capitalised, "SHOUTED!!": shouted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--errors", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [
        json.loads(line)
        for f in args.files
        for line in Path(f).read_text("utf-8").splitlines()
        if line.strip() and json.loads(line)["intent"] == "human_request"
    ]
    engine = build_engine(Settings())
    prefetch_embeddings(engine, [fn(r["text"]) for r in rows for fn in CASES.values()])
    hits: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    shown = 0
    for row in rows:
        for name, fn in CASES.items():
            d = engine.respond(fn(row["text"]), ConversationContext())
            ok = d.action == "handoff"
            for lang in (row["lang"], "all"):
                hits[lang][name].append(ok)
            if not ok and shown < args.errors:
                shown += 1
                print(f"  - [{row['lang']} {name}] {fn(row['text'])[:80]!r}: {d.action}/{d.faq_id} ({d.reason})")
    table = [
        [lang, len(hits[lang]["as written"]), *(round(100 * sum(v) / len(v), 1) for v in hits[lang].values())]
        for lang in sorted(hits, key=lambda lang: (lang == "all", lang))
    ]
    print(markdown_table(["lang", "n", *(f"{name} %" for name in CASES)], table))


if __name__ == "__main__":
    main()
