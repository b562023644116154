"""Where does robustness to typing belong: normalising text before embedding, or augmenting training data?

Builds the engine once per variant and runs a labelled set (default: the dev split) as typed and in
perturbed copies: lower case, Capitalised, SHOUTED!!, no accents, no punctuation, one typo, and
wrapped in a four-sentence story (greeting, context, the question, thanks; bench/_story.py). Per variant
and perturbation it prints answer accuracy, handoff recall, the wrong-answer rate (answered with the
wrong entry, or answered something that wanted a person) and decisions flipped against the
unperturbed message.

Variants: ``none`` (today), ``case`` and ``case+accents`` (bot/nlu/normalise.py), and ``augment``
(no normalisation; every question variant and intent example also added Capitalised, SHOUTED and
without accents). Tune on dev only.

    python bench/normalisation_ablation.py [--file bench/data/dev.jsonl] [--variants none,case,augment]
"""

from __future__ import annotations

import argparse
import logging
import random
import string
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, markdown_table, prefetch_embeddings  # noqa: E402
from bench._story import in_a_story  # noqa: E402
from bot.evaluation import Case, load_cases  # noqa: E402
from bot.knowledge import files  # noqa: E402
from bot.knowledge.models import Entry, KnowledgeBase, LocaleContent  # noqa: E402
from bot.nlu.base import ConversationContext, Decision  # noqa: E402
from bot.nlu.pipeline import AnswerEngine, build_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402


def strip_accents(text: str) -> str:
    out = []
    for ch in text:
        if "LATIN" in unicodedata.name(ch, ""):
            ch = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        out.append(ch)
    return "".join(out)


def one_typo(text: str, seed: int) -> str:
    """Swap two neighbouring letters inside one word of at least 4 letters (deterministic per message)."""
    rng = random.Random(seed)
    spots = [i for i in range(1, len(text) - 2) if text[i - 1 : i + 2].isalpha()]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


PUNCTUATION = set(string.punctuation + "¿¡？！。、，")
PERTURBATIONS: dict[str, Callable[[Case, int], str]] = {
    "as typed": lambda c, _: c.text,
    "lower": lambda c, _: c.text.lower(),
    "Capitalised": lambda c, _: capitalise(c.text),
    "SHOUTED!!": lambda c, _: c.text.upper().rstrip("?!.") + "?!!",
    "no accents": lambda c, _: strip_accents(c.text),
    "no punctuation": lambda c, _: "".join(ch for ch in c.text if ch not in PUNCTUATION).strip(),
    "one typo": lambda c, k: one_typo(c.text, k),
    # Questions and requests wrapped in a greeting, a story and thanks (small talk stays as it is).
    "in a story": lambda c, _: in_a_story(c.text, c.lang) if c.intent not in ("greeting", "thanks_goodbye") else c.text,
}


def augmented(kb: KnowledgeBase, examples: dict[str, dict[str, list[str]]]):
    def forms(q: str) -> list[str]:
        return list(dict.fromkeys([q, capitalise(q), q.upper(), strip_accents(q)]))

    entries = {
        fid: Entry(
            id=e.id,
            locales={
                loc: LocaleContent(answer=c.answer, questions=[f for q in c.questions for f in forms(q)])
                for loc, c in e.locales.items()
            },
            topic=e.topic,
            status=e.status,
        )
        for fid, e in kb.entries.items()
    }
    aug = {i: {loc: [f for q in qs for f in forms(q)] for loc, qs in by.items()} for i, by in examples.items()}
    return KnowledgeBase(entries=entries, default_locale=kb.default_locale), aug


def wrong(case: Case, d: Decision) -> bool:
    if d.action != "answer":
        return False
    if case.faq_id:
        return d.faq_id != case.faq_id
    return case.expect == "handoff"


def decide_all(engine: AnswerEngine, texts: list[str]) -> list[Decision]:
    """The engine's decisions for first messages (embeddings batched up front)."""
    prefetch_embeddings(engine, texts)
    return [engine.respond(text, ConversationContext()) for text in texts]


def run(engine: AnswerEngine, cases: list[Case]) -> list[list[object]]:
    base = decide_all(engine, [c.text for c in cases])
    rows = []
    for name, perturb in PERTURBATIONS.items():
        texts = [perturb(c, k) or c.text for k, c in enumerate(cases)]
        got = base if name == "as typed" else decide_all(engine, texts)
        faq = ok = hand = hand_ok = bad = flipped = 0
        for case, b, d in zip(cases, base, got, strict=True):
            if case.faq_id:
                faq += 1
                ok += d.action == "answer" and d.faq_id == case.faq_id
            if case.expect == "handoff":
                hand += 1
                # A decline offers a person: for an out-of-scope question that is what a handoff was for.
                hand_ok += d.action == "handoff" or (d.action == "decline" and case.intent == "out_of_scope")
            bad += wrong(case, d)
            flipped += (d.action, d.faq_id) != (b.action, b.faq_id)
        n = len(cases)
        rows.append([name, 100.0 * ok / faq, 100.0 * hand_ok / hand, 100.0 * bad / n, 100.0 * flipped / n])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default=str(REPO / "bench/data/dev.jsonl"))
    parser.add_argument("--variants", default="none,case,case+accents,augment")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cases = load_cases(Path(args.file))
    headers = ["perturbation", "answer_acc %", "handoff_R %", "wrong %", "flipped %"]
    for variant in args.variants.split(","):
        settings = Settings(text_normalisation="none" if variant == "augment" else variant)
        if variant == "augment":
            settings = replace_models_dir(settings, "augment")
            kb, examples = augmented(files.load(settings.kb_path), files.load_intents(settings.kb_path))
            engine = build_engine(settings, kb=kb, intent_examples=examples)
        else:
            engine = build_engine(replace_models_dir(settings, variant))
        print(f"\n### {variant} ({Path(args.file).name}, {len(cases)} messages)\n")
        print(markdown_table(headers, run(engine, cases)))


def replace_models_dir(settings: Settings, variant: str) -> Settings:
    """A classifier artifact per variant (the embedding cache is shared: it is keyed by text)."""
    models = settings.models_dir / "cache" / "ablation" / variant.replace("+", "-")  # ignored by git
    models.mkdir(parents=True, exist_ok=True)
    cache = models / "cache"
    if not cache.exists():
        cache.symlink_to(settings.models_dir / "cache")
    return settings.model_copy(update={"models_dir": models})


if __name__ == "__main__":
    main()
