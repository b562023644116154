"""Does the same message get the same decision however it is typed?

Makes perturbed copies of a labelled set and prints, per perturbation: answer accuracy (FAQ questions
answered with the right entry), handoff recall, wrong-answer rate (messages answered with an entry they did
not ask about, over all messages) and decisions flipped against the original (action or entry changed).
Perturbations: as written, lower case, Capitalised first letter, SHOUTED with "!!", no accents/diacritics,
no punctuation, one typo (seeded: the same typo every run), an order number pasted before or after.

    python bench/robustness.py [--split test|dev] [--set v2|heldout] [--only lower,typo] [--errors 20]

``--set v2`` (default) is the rewritten natural-typing set, ``heldout`` the original one (dev.jsonl /
heldout.jsonl). Tune on ``--split dev``; report ``test``.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import markdown_table  # noqa: E402
from bench._sets import SETS, SPLITS, LabelledCase, decide_all, load_set, pct  # noqa: E402
from bot.evaluation import Tally  # noqa: E402
from bot.nlu.base import Decision  # noqa: E402
from bot.nlu.pipeline import build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402

#: Letters without a decomposition that people still type plainly when they skip diacritics.
_PLAIN = str.maketrans({"ł": "l", "Ł": "L", "ı": "i", "İ": "I", "ø": "o", "Ø": "O", "đ": "d", "ß": "ss"})
#: Marks are dropped only from Latin, Greek, Cyrillic and Arabic letters: dropping the Japanese (han)dakuten
#: would turn one word into another, which nobody types by accident.
_STRIP_BELOW = 0x0700


def lower(text: str) -> str:
    # Python lower-cases the Turkish "İ" to "i" plus a combining dot, which no keyboard types.
    return text.replace("İ", "i").lower()


def capitalised(text: str) -> str:
    """How phones send it: lower case with the first letter capitalised."""
    low = lower(text)
    return low[:1].upper() + low[1:]


def shouted(text: str) -> str:
    return text.upper().rstrip(".。") + "!!"


def no_accents(text: str) -> str:
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", text.translate(_PLAIN)):
        if unicodedata.category(ch) == "Mn" and out and ord(out[-1]) < _STRIP_BELOW:
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def no_punctuation(text: str) -> str:
    kept = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(kept.split()) or text


def one_typo(text: str, seed: int = 7) -> str:
    """One slip of the finger in a word of 4+ letters (any letter in scripts without spaces): a swapped pair,
    a dropped or a doubled letter. Seeded by the text, so every run makes the same typo."""
    rng = random.Random(f"{seed}:{text}")
    spots = []
    start = None
    for i, ch in enumerate(text + " "):
        if ch.isalpha() and start is None:
            start = i
        elif not ch.isalpha() and start is not None:
            word = text[start:i]
            cjk = any(unicodedata.east_asian_width(c) == "W" for c in word)
            if cjk or len(word) >= 4:
                spots.extend(range(start, i - 1) if not cjk else range(start, i))
            start = None
    if not spots:
        return text
    i = rng.choice(spots)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap" and i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "double":
        return text[: i + 1] + text[i] + text[i + 1 :]
    return text[:i] + text[i + 1 :]


def order_number(text: str, seed: int = 7) -> str:
    """An order number pasted before or after the message, as shoppers do ("#A10293 ...", "... AV-2024-55120");
    format and place seeded by the text."""
    rng = random.Random(f"{seed}:order:{text}")
    digits = rng.randrange(10000, 99999)
    ref = rng.choice([f"#{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{digits}", f"{digits}-{rng.randrange(10, 99)}",
                      f"AV-2026-{digits}", f"#{digits}"])
    return f"{ref} {text}" if rng.random() < 0.3 else f"{text} {ref}"


PERTURBATIONS: dict[str, Callable[[str], str]] = {
    "original": lambda t: t,
    "lower": lower,
    "Capitalised": capitalised,
    "SHOUTED!!": shouted,
    "no_accents": no_accents,
    "no_punctuation": no_punctuation,
    "one_typo": one_typo,
    "order_number": order_number,
}


def score(cases: list[LabelledCase], decisions: list[Decision], originals: list[Decision]) -> dict[str, float]:
    tally = Tally()
    wrong = flipped = 0
    for case, d, o in zip(cases, decisions, originals, strict=True):
        tally.add(case, d)
        wrong += d.action == "answer" and d.faq_id is not None and d.faq_id != case.faq_id
        flipped += (d.action, d.faq_id) != (o.action, o.faq_id)
    row = tally.row()
    return {
        "answer_acc": row["answer_acc"],
        "handoff_R": row["handoff_R"],
        "wrong_answers": pct(wrong, len(cases)),
        "flipped": pct(flipped, len(cases)),
        "clarify_rate": row["clarify_rate"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--set", choices=["v2", "heldout"], default="v2")
    parser.add_argument("--file", help="any labelled JSONL set instead of --set/--split")
    parser.add_argument("--only", help="comma-separated perturbations (original always runs)")
    parser.add_argument("--hint", action="store_true", help="give each message its language as the widget's hint")
    parser.add_argument("--errors", type=int, default=0,
                        help="list the mistakes as written and up to N flipped decisions per perturbation")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    path = Path(args.file) if args.file else SETS[args.set][args.split]
    cases = load_set(path)
    names = list(PERTURBATIONS)
    if args.only:
        wanted = {n.strip().lower() for n in args.only.split(",")}
        names = ["original", *[n for n in names[1:] if n.lower().strip("!") in wanted or n.lower() in wanted]]
    engine = build_engine(Settings())
    originals = decide_all(engine, ((c.text, c.lang) for c in cases), args.hint, "original")
    if args.errors:
        for c, d in zip(cases, originals, strict=True):
            ok = d.action == "handoff" if c.expect == "handoff" else (
                d.action == "answer" and d.faq_id == c.faq_id if c.faq_id else d.action == "answer")
            if not ok:
                print(f"  as written [{c.lang}] {c.text!r}: want {c.faq_id or c.expect}, got {d.action}/{d.faq_id}"
                      f" ({d.reason})")
    rows = []
    for name in names:
        fn = PERTURBATIONS[name]
        texts = [fn(c.text) for c in cases]
        changed = sum(t != c.text for t, c in zip(texts, cases, strict=True))
        decisions = originals if name == "original" else decide_all(
            engine, zip(texts, (c.lang for c in cases), strict=True), args.hint, name
        )
        s = score(cases, decisions, originals)
        rows.append([name, f"{pct(changed, len(cases)):.0f}", *(round(s[k], 1) for k in s)])
        if args.errors and name != "original":
            shown = 0
            for c, t, d, o in zip(cases, texts, decisions, originals, strict=True):
                if (d.action, d.faq_id) != (o.action, o.faq_id) and shown < args.errors:
                    shown += 1
                    print(f"  {name} [{c.lang}] {t!r}: {o.action}/{o.faq_id} -> {d.action}/{d.faq_id} ({d.reason})")
    print(f"\n{path.relative_to(path.parents[2]) if len(path.parents) > 2 else path}: {len(cases)} messages, "
          f"{sum(1 for c in cases if c.faq_id)} FAQ questions, {sum(c.expect == 'handoff' for c in cases)} handoffs\n")
    headers = ["perturbation", "changed %", "answer acc %", "handoff recall %", "wrong answers %", "flipped %",
               "clarify %"]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
