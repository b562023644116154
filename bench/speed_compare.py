"""Per-message latency of this checkout against another one (e.g. before a change), side by side.

Timings on a shared machine are noisy, so the two engines run in alternating child processes,
several rounds each, on the same held-out messages; the table reports each side's median
latency per round and the ratio of the medians.

    git worktree add --detach /tmp/nlu-base <commit>
    python bench/speed_compare.py --base /tmp/nlu-base [--messages 120] [--rounds 3]

Each side uses its own ``models`` folder for the classifier artifact (``--base-models``), sharing
this checkout's embedding cache if you link it there, so nothing is embedded twice.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def child(root: str, messages: int) -> None:
    """Runs inside the child process: build the engine of ``root``, time ``messages`` held-out messages."""
    sys.path.insert(0, root)
    import logging

    logging.basicConfig(level=logging.WARNING)
    from bot.nlu.base import ConversationContext
    from bot.nlu.pipeline import build_engine
    from bot.settings import Settings

    engine = build_engine(Settings())
    rows = [json.loads(line) for line in (HERE / "bench/data/heldout.jsonl").read_text("utf-8").splitlines()]
    texts = [r["text"] for r in rows][:: max(1, len(rows) // messages)][:messages]
    for t in texts[:10]:
        engine.respond(t)
    latencies = []
    for t in texts:
        t0 = time.perf_counter()
        engine.respond(t, ConversationContext())
        latencies.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"median_ms": statistics.median(latencies), "n": len(latencies)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the other checkout (its bot/ is imported)")
    parser.add_argument("--base-models", help="BORDERLESS_MODELS_DIR for the other checkout")
    parser.add_argument("--messages", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.messages)
        return
    sides = {"base": (args.base, args.base_models), "this": (str(HERE), None)}
    medians: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(args.rounds):
        for name, (root, models) in sides.items():
            env = dict(os.environ)
            if models:
                env["BORDERLESS_MODELS_DIR"] = models
            out = subprocess.run(
                [sys.executable, __file__, "--child", root, "--messages", str(args.messages), "--base", root],
                env=env, check=True, capture_output=True, text=True, cwd=root,
            ).stdout
            medians[name].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
    print("| side | median latency per round (ms) | median of rounds (ms) |")
    print("|---|---|---|")
    for name, values in medians.items():
        print(f"| {name} | {' / '.join(f'{v:.1f}' for v in values)} | {statistics.median(values):.1f} |")
    ratio = statistics.median(medians["this"]) / statistics.median(medians["base"])
    print(f"\nratio this/base: {ratio:.2f}x")


if __name__ == "__main__":
    main()
