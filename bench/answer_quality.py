"""Answer quality on the team's multilingual held-out set, per language.

Answer accuracy (FAQ questions answered with the right entry), handoff precision and
recall, language-ID accuracy (no locale hint: the detector alone) and the share of
answers given in the shopper's language. Same scoring as ``borderless eval``.

    python bench/answer_quality.py [--file bench/data/heldout.jsonl] [--hint] [--errors 20]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, prefetch_embeddings  # noqa: E402
from bot.evaluation import evaluate, format_table, load_cases  # noqa: E402
from bot.nlu.pipeline import build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default=str(REPO / "bench/data/heldout.jsonl"))
    parser.add_argument("--hint", action="store_true", help="give each message its language as the widget's hint")
    parser.add_argument("--errors", type=int, default=0, help="also list up to N mistakes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = build_engine(Settings())
    cases = load_cases(Path(args.file))
    prefetch_embeddings(engine, [c.text for c in cases])
    tallies = evaluate(engine, cases, use_hint=args.hint)
    print(format_table(tallies))
    for case, d in tallies["all"].errors[: args.errors]:
        print(
            f"- [{case.lang}] {case.text!r}: want {case.faq_id or case.expect}, got {d.action}/{d.faq_id} ({d.reason})"
        )


if __name__ == "__main__":
    main()
