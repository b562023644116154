"""Run every benchmark in turn and print their tables (about an hour on 2 cores the first time).

    python bench/run_all.py [--quick]

--quick limits the long runs (CLINC150/BANKING77 to 500 test utterances, speed to 100 messages).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quick = args.quick
    steps = [
        ["bench/answer_quality.py"],
        ["bench/answer_quality.py", "--file", "bench/data/test_v2.jsonl"],
        ["bench/robustness.py", *(["--only", "Capitalised,shouted"] if quick else [])],
        ["bench/hard_sets.py"],
        ["bench/single_language.py"],
        ["bench/tune_policy.py"],
        ["bench/hybrid_ablation.py"],
        ["-m", "bench.langid_bench", *(["--limit", "200"] if quick else [])],
        ["bench/intent_benchmarks.py", *(["--limit", "500"] if quick else [])],
        ["bench/speed.py", *(["--messages", "100", "--sizes", "10000"] if quick else [])],
        ["bench/kb_update_bench.py", *(["--sizes", "1000,10000"] if quick else [])],
        ["bench/ws_load.py", "--spawn", *(["--levels", "10,100"] if quick else [])],
    ]
    failed = 0
    for step in steps:
        print(f"\n### python {' '.join(step)}\n", flush=True)
        failed += subprocess.run([sys.executable, *step], cwd=REPO).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
