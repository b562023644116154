"""Choose the decision policy's thresholds on the validation split (bench/data/dev.jsonl).

Embeds each dev message once, picks how to fuse the vector index with the classifier
(top-1 entry accuracy; ties go to the balanced weight 0.5), then replays the policy
over a grid of thresholds with the configured fusion. The objective is the mean of answer accuracy,
handoff precision and handoff recall; ties go to the more conservative (higher) answer threshold.
Never tune on heldout.jsonl: that is the test set.

    python bench/tune_policy.py [--file bench/data/dev.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bench._common import REPO, markdown_table  # noqa: E402
from bot.evaluation import Tally, load_cases  # noqa: E402
from bot.nlu.base import ConversationContext, Decision  # noqa: E402
from bot.nlu.index import aggregate  # noqa: E402
from bot.nlu.pipeline import build_engine, fuse  # noqa: E402
from bot.nlu.policy import ThresholdPolicy  # noqa: E402
from bot.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default=str(REPO / "bench/data/dev.jsonl"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    engine = build_engine(settings)
    state = engine.snapshot()
    raw = []
    for case in tqdm(load_cases(Path(args.file)), desc="embedding dev set", unit="msg"):
        query = engine.embedder.embed_queries([case.text])[0]
        raw.append((case, state.classifier.predict(query)[0], aggregate(state.index.search(query, k=40))))

    # 1. How to fuse the index with the classifier: top-1 entry accuracy on the FAQ questions.
    fusion_rows = []
    for w, temp in itertools.product([0.0, 0.25, 0.5, 0.75, 1.0], [0.01, 0.02, 0.03, 0.05]):
        hits = sum(
            fuse(list(es), np.array([e.similarity for e in es]), intent, w, temp)[0].faq_id == case.faq_id
            for case, intent, es in raw
            if case.faq_id
        )
        fusion_rows.append([w, temp, 100.0 * hits / sum(1 for c, _, _ in raw if c.faq_id)])
    fusion_rows.sort(key=lambda r: (-r[2], abs(r[0] - 0.5), r[1]))
    print(markdown_table(["fusion_weight", "fusion_temperature", "top-1 entry acc %"], fusion_rows[:8]))
    print()
    prepared = [
        (
            case,
            intent,
            fuse(
                list(es),
                np.array([e.similarity for e in es]),
                intent,
                settings.fusion_weight,
                settings.fusion_temperature,
            ),
        )
        for case, intent, es in raw
    ]

    grid = itertools.product(
        [0.3, 0.35, 0.4, 0.45, 0.5, 0.6], [0.1, 0.15, 0.2, 0.25, 0.3], [0.4, 0.5, 0.6, 0.7], [0.2, 0.3, 0.4, 1.01]
    )
    base = ThresholdPolicy.from_settings(settings)
    results = []
    for answer_t, clarify_t, intent_t, human_t in grid:
        if clarify_t >= answer_t:
            continue
        policy = replace(
            base, answer_threshold=answer_t, clarify_threshold=clarify_t, intent_threshold=intent_t,
            human_threshold=human_t,
        )
        tally = Tally()
        for case, intent, entries in prepared:
            o = policy.decide(intent, entries, ConversationContext())
            tally.add(
                case,
                Decision(
                    case.lang, intent.intent, o.action, o.faq_id, o.confidence, o.reason, "", reply_lang=case.lang
                ),
            )
        row = tally.row()
        score = (row["answer_acc"] + row["handoff_P"] + row["handoff_R"]) / 3
        results.append((score, answer_t, clarify_t, intent_t, human_t, row))
    # Ties go to the higher answer threshold, then the higher human threshold (fewer handoffs).
    results.sort(key=lambda r: (-r[0], -r[1], -r[4]))
    rows = [
        [f"{s:.1f}", a, c, i, h, r["answer_acc"], r["handoff_P"], r["handoff_R"], r["clarify_rate"]]
        for s, a, c, i, h, r in results[:10]
    ]
    headers = ["objective", "answer_t", "clarify_t", "intent_t", "human_t", "answer_acc", "handoff_P", "handoff_R"]
    print(markdown_table([*headers, "clarify_rate"], rows))
    best = results[0]
    print(
        f"\nbest: BORDERLESS_ANSWER_THRESHOLD={best[1]} BORDERLESS_CLARIFY_THRESHOLD={best[2]} "
        f"BORDERLESS_INTENT_THRESHOLD={best[3]} BORDERLESS_HUMAN_THRESHOLD={best[4]} (1.01 = off)"
    )


if __name__ == "__main__":
    main()
