"""Scoring the engine on a labelled JSON-lines set, per language.

Each line: ``{"text", "lang", "intent", "faq_id", "expect": "answer"|"handoff"}``.
A FAQ line is correct when the bot answers with that entry; a small-talk line when
it answers without handing off; a handoff line when it hands off (an out-of-scope line
may also be declined: the decline offers a person).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.nlu.base import ConversationContext, Decision
from bot.nlu.pipeline import AnswerEngine


@dataclass
class Case:
    text: str
    lang: str
    intent: str
    faq_id: str | None
    expect: str


@dataclass
class Tally:
    """Counts for one language (or all)."""

    n_faq: int = 0
    faq_correct: int = 0
    n_lang: int = 0
    lang_correct: int = 0
    reply_in_lang: int = 0
    n_answers: int = 0
    handoff_tp: int = 0
    handoff_fp: int = 0
    handoff_fn: int = 0
    smalltalk: int = 0
    smalltalk_ok: int = 0
    clarify: int = 0
    errors: list[tuple[Case, Decision]] = field(default_factory=list)

    def add(self, case: Case, d: Decision) -> None:
        self.n_lang += 1
        self.lang_correct += d.lang == case.lang
        if d.action == "answer":
            self.n_answers += 1
            self.reply_in_lang += (d.reply_lang or d.lang) == case.lang
        self.clarify += d.action == "clarify"
        want_handoff = case.expect == "handoff"
        # A decline offers a person in the same breath: for an out-of-scope question that is what a handoff was for.
        got_handoff = d.action == "handoff" or (d.action == "decline" and case.intent == "out_of_scope")
        self.handoff_tp += want_handoff and got_handoff
        self.handoff_fp += got_handoff and not want_handoff
        self.handoff_fn += want_handoff and not got_handoff
        ok = got_handoff if want_handoff else d.action == "answer"
        if case.faq_id:
            self.n_faq += 1
            ok = d.action == "answer" and d.faq_id == case.faq_id
            self.faq_correct += ok
        elif not want_handoff:
            self.smalltalk += 1
            self.smalltalk_ok += ok
        if not ok:
            self.errors.append((case, d))

    @staticmethod
    def pct(a: int, b: int) -> float:
        return 100.0 * a / b if b else float("nan")

    def row(self) -> dict[str, float]:
        return {
            "answer_acc": self.pct(self.faq_correct, self.n_faq),
            "handoff_P": self.pct(self.handoff_tp, self.handoff_tp + self.handoff_fp),
            "handoff_R": self.pct(self.handoff_tp, self.handoff_tp + self.handoff_fn),
            "langid_acc": self.pct(self.lang_correct, self.n_lang),
            "reply_in_lang": self.pct(self.reply_in_lang, self.n_answers),
            "clarify_rate": self.pct(self.clarify, self.n_lang),
        }


def load_cases(path: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            cases.append(
                Case(d["text"], d["lang"], d.get("intent", "faq_question"), d.get("faq_id"), d.get("expect", "answer"))
            )
        except (json.JSONDecodeError, KeyError) as exc:
            raise ValueError(f"{path}: line {n}: {exc}") from None
    return cases


def evaluate(
    engine: AnswerEngine, cases: Iterable[Case], progress: bool = True, use_hint: bool = False
) -> dict[str, Tally]:
    """Run every case as the first message of its own conversation; tallies per language and ``all``."""
    cases = list(cases)
    if progress:
        from tqdm import tqdm

        cases = tqdm(cases, desc="evaluating", unit="msg")
    tallies: dict[str, Tally] = defaultdict(Tally)
    for case in cases:
        ctx = ConversationContext(locale_hint=case.lang if use_hint else None)
        d = engine.respond(case.text, ctx)
        tallies[case.lang].add(case, d)
        tallies["all"].add(case, d)
    return dict(tallies)


def format_table(tallies: dict[str, Tally]) -> str:
    """A markdown table, one row per language, ``all`` last."""
    cols = ["answer_acc", "handoff_P", "handoff_R", "langid_acc", "reply_in_lang", "clarify_rate"]
    lines = ["| lang | n | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 2)]
    for lang in sorted(k for k in tallies if k != "all") + (["all"] if "all" in tallies else []):
        row = tallies[lang].row()
        lines.append(f"| {lang} | {tallies[lang].n_lang} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |")
    return "\n".join(lines)
