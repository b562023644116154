"""Benchmark the registered language identifiers side by side on short texts.

Sets (one message per line, true language from the file name):

* ``<data>/{single-words,word-pairs,sentences}/<iso>.txt`` (default ``../shared/benchmarks/langid-short``);
* the knowledge base's own question variants (``knowledge_base/faq/*.yaml``, ``locales.<xx>.questions``).

Accuracy is detector-only: the top guess of ``detect(text)`` against the true language; no locale hint (a hint
equal to the true language would be cheating).  Separately, ``resolve_language`` is exercised on the knowledge
base questions *without* hints: how often a question in the conversation's own language wrongly switches it,
and how often a question in another language is recognised as a switch.

The winner is the best mean accuracy over single-words + word-pairs + kb questions.

Usage (from the repository root)::

    python -m bench.langid_bench                # all candidates, 1000 lines per file
    python -m bench.langid_bench --limit 300 --output /tmp/langid.md
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Allow ``python bench/langid_bench.py`` as well as ``python -m bench.langid_bench``.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml
from tqdm import tqdm

from bot.nlu.base import SUPPORTED_LOCALES, ConversationContext
from bot.nlu.langid import LANGID, normalize_lang
from bot.nlu.stickiness import resolve_language

REPO_ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("bench.langid")

SHORT_SETS = ("single-words", "word-pairs", "sentences")
KB_SET = "kb questions"
ALL_SETS = (*SHORT_SETS, KB_SET)
#: The sets the winner is chosen on (chat messages are short; sentences are near-saturated for every model).
SELECTION_SETS = ("single-words", "word-pairs", KB_SET)

Sample = tuple[str, str]  # (true language, text)


@dataclass
class CandidateResult:
    """Everything measured for one candidate."""

    name: str
    load_s: float = 0.0
    correct: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    per_lang: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    seconds: float = 0.0
    messages: int = 0
    false_switches: int = 0
    stay_total: int = 0
    switches: int = 0
    switch_total: int = 0

    def accuracy(self, set_name: str) -> float | None:
        n = self.total.get(set_name, 0)
        return self.correct[set_name] / n if n else None

    def lang_accuracy(self, set_name: str, lang: str) -> float | None:
        ok, n = self.per_lang.get((set_name, lang), (0, 0))
        return ok / n if n else None

    def selection_score(self) -> float:
        values = [a for a in (self.accuracy(s) for s in SELECTION_SETS) if a is not None]
        return sum(values) / len(values) if values else 0.0


def read_lines(path: Path, limit: int) -> list[str]:
    """The first ``limit`` non-empty lines of ``path``."""
    lines: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                lines.append(line)
                if len(lines) >= limit:
                    break
    return lines


def load_short_sets(data_dir: Path, limit: int) -> dict[str, list[Sample]]:
    """``{set: [(lang, text)]}`` for the sets and languages present under ``data_dir``."""
    sets: dict[str, list[Sample]] = {}
    for set_name in SHORT_SETS:
        samples: list[Sample] = []
        for lang in SUPPORTED_LOCALES:
            path = data_dir / set_name / f"{lang}.txt"
            if path.is_file():
                samples.extend((lang, text) for text in read_lines(path, limit))
            else:
                logger.warning("missing %s", path)
        if samples:
            sets[set_name] = samples
    return sets


def load_kb_questions(kb_dir: Path) -> list[Sample]:
    """Question variants per supported locale from ``kb_dir/faq/*.yaml``; unreadable files are skipped."""
    samples: list[Sample] = []
    for path in sorted((kb_dir / "faq").glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            logger.warning("skipping %s: %s", path, exc)
            continue
        locales = data.get("locales") if isinstance(data, dict) else None
        if not isinstance(locales, dict):
            continue
        for locale, content in locales.items():
            lang = normalize_lang(str(locale))
            questions = content.get("questions") if isinstance(content, dict) else None
            if lang is None or not isinstance(questions, list):
                continue
            samples.extend((lang, str(q).strip()) for q in questions if str(q).strip())
    return samples


def _other_language(lang: str, i: int) -> str:
    """A deterministic supported language different from ``lang`` (rotates with ``i``)."""
    others = [code for code in SUPPORTED_LOCALES if code != lang]
    return others[i % len(others)]


def run_candidate(
    name: str, sets: dict[str, list[Sample]], *, script_shortcuts: bool, progress: tqdm
) -> CandidateResult:
    """Detect every sample with candidate ``name``, then run the stickiness checks on the kb questions."""
    result = CandidateResult(name)
    detector = LANGID.create(name, script_shortcuts=script_shortcuts)
    start = time.perf_counter()
    detector.load()
    result.load_s = time.perf_counter() - start
    for set_name, samples in sets.items():
        progress.set_postfix_str(f"{name}: {set_name}")
        for lang, text in samples:
            t0 = time.perf_counter()
            guesses = detector.detect(text)
            result.seconds += time.perf_counter() - t0
            result.messages += 1
            ok = int(bool(guesses) and guesses[0].lang == lang)
            result.correct[set_name] += ok
            result.total[set_name] += 1
            cell = result.per_lang[(set_name, lang)]
            cell[0] += ok
            cell[1] += 1
            progress.update()
    for i, (lang, text) in enumerate(sets.get(KB_SET, [])):
        stay = resolve_language(detector, text, ConversationContext(lang=lang), default="en")
        result.stay_total += 1
        result.false_switches += int(stay.lang != lang)
        switched = resolve_language(detector, text, ConversationContext(lang=_other_language(lang, i)), "en")
        result.switch_total += 1
        result.switches += int(switched.lang == lang)
        progress.update()
    return result


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _bold_best(cells: list[float | None]) -> list[str]:
    present = [c for c in cells if c is not None]
    best = max(present) if present else None
    return [f"**{_pct(c)}**" if c is not None and c == best else _pct(c) for c in cells]


def render(results: list[CandidateResult], sets: dict[str, list[Sample]], *, script_shortcuts: bool) -> str:
    """The markdown report: overall table, per-language tables, stickiness table, winner."""
    present_sets = [s for s in ALL_SETS if s in sets]
    lines: list[str] = []
    sizes = ", ".join(f"{s}: {len(sets[s])}" for s in present_sets)
    lines.append(f"Messages per set — {sizes}. Script shortcuts: {'on' if script_shortcuts else 'off'}.")
    lines.append("")
    header = ["candidate", *present_sets, "mean (words+pairs+kb)", "ms/message", "load s"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    columns = {s: _bold_best([r.accuracy(s) for r in results]) for s in present_sets}
    means = _bold_best([r.selection_score() for r in results])
    for i, r in enumerate(results):
        ms = 1000 * r.seconds / r.messages if r.messages else 0.0
        row = [r.name, *(columns[s][i] for s in present_sets), means[i], f"{ms:.3f}", f"{r.load_s:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    for set_name in ("word-pairs", KB_SET):
        if set_name not in sets:
            continue
        langs = [lang for lang in SUPPORTED_LOCALES if any(sample[0] == lang for sample in sets[set_name])]
        lines += ["", f"Per-language accuracy, {set_name} (%):", ""]
        lines.append("| lang | " + " | ".join(r.name for r in results) + " |")
        lines.append("|---|" + "---|" * len(results))
        for lang in langs:
            cells = _bold_best([r.lang_accuracy(set_name, lang) for r in results])
            lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    if KB_SET in sets:
        lines += ["", "`resolve_language` on kb questions, no locale hint (%):", ""]
        lines.append("| candidate | kept when already in that language | switched when conversation was another |")
        lines.append("|---|---|---|")
        for r in results:
            kept = 1 - r.false_switches / r.stay_total if r.stay_total else None
            switched = r.switches / r.switch_total if r.switch_total else None
            lines.append(f"| {r.name} | {_pct(kept)} | {_pct(switched)} |")
    winner = max(results, key=lambda r: r.selection_score())
    lines.append("")
    lines.append(
        f"Winner (mean accuracy over single-words + word-pairs + kb questions): **{winner.name}** "
        f"({_pct(winner.selection_score())}%)."
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "benchmarks" / "langid-short",
                        help="folder with single-words/, word-pairs/, sentences/ (default: %(default)s)")
    parser.add_argument("--kb", type=Path, default=REPO_ROOT / "knowledge_base", help="knowledge base folder")
    parser.add_argument("--limit", type=int, default=1000, help="lines per language file (default: %(default)s)")
    parser.add_argument("--candidates", nargs="+", default=LANGID.names(), choices=LANGID.names())
    parser.add_argument("--no-script-shortcuts", action="store_true",
                        help="let the models decide non-Latin scripts too (shows what the shortcuts buy)")
    parser.add_argument("--output", type=Path, help="also write the markdown report to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the markdown report."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    sets = load_short_sets(args.data, args.limit)
    kb = load_kb_questions(args.kb)
    if kb:
        sets[KB_SET] = kb
    if not sets:
        logger.error("no benchmark data under %s or %s", args.data, args.kb)
        return 1
    shortcuts = not args.no_script_shortcuts
    per_candidate = sum(len(s) for s in sets.values()) + len(kb)
    results: list[CandidateResult] = []
    with tqdm(total=per_candidate * len(args.candidates), unit="msg", file=sys.stderr) as progress:
        for name in args.candidates:
            results.append(run_candidate(name, sets, script_shortcuts=shortcuts, progress=progress))
    report = render(results, sets, script_shortcuts=shortcuts)
    print(report)
    if args.output:
        args.output.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
