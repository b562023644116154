"""Language identification and conversation stickiness, on the real bundled models (no mocks)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.nlu.base import SUPPORTED_LOCALES, ConversationContext, LanguageIdentifier
from bot.nlu.langid import (
    LANGID,
    get_language_identifier,
    message_signal,
    normalize_lang,
)
from bot.nlu.stickiness import resolve_language

CANDIDATES = ("fasttext", "langdetect", "langidentify", "lingua")

SENTENCES = {
    "en": "Hello, my order has not arrived yet and I would like to know where it is.",
    "es": "Hola, mi pedido todavía no ha llegado y quisiera saber dónde está.",
    "de": "Hallo, meine Bestellung ist noch nicht angekommen, wo ist sie denn?",
    "fr": "Bonjour, ma commande n'est toujours pas arrivée, pouvez-vous m'aider ?",
    "lv": "Labdien, mans pasūtījums vēl nav pienācis, kur tas šobrīd atrodas?",
    "pl": "Dzień dobry, moje zamówienie jeszcze nie dotarło, gdzie ono jest?",
    "tr": "Merhaba, siparişim henüz gelmedi, nerede olduğunu öğrenebilir miyim?",
    "zh": "你好，我的订单还没有到，请问现在在哪里？",
    "ja": "こんにちは、注文した商品がまだ届いていません。今どこにありますか？",
    "ko": "안녕하세요, 주문한 상품이 아직 도착하지 않았어요. 어디에 있나요?",
    "ru": "Здравствуйте, мой заказ ещё не пришёл, где он сейчас?",
    "ar": "مرحبا، طلبي لم يصل بعد، أين هو الآن؟",
}


@pytest.fixture(scope="module", params=CANDIDATES)
def detector(request: pytest.FixtureRequest) -> LanguageIdentifier:
    """Each registered candidate, loaded once per test module."""
    return get_language_identifier(request.param)


@pytest.fixture(scope="module")
def default_detector() -> LanguageIdentifier:
    """The settings default (``langidentify``)."""
    return get_language_identifier("langidentify")


def test_registry_lists_all_candidates() -> None:
    assert set(CANDIDATES) <= set(LANGID.names())
    for name in CANDIDATES:
        assert isinstance(get_language_identifier(name), LanguageIdentifier)
    with pytest.raises(ValueError, match="unknown language identifier"):
        LANGID.create("nope")


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_detects_sentences(detector: LanguageIdentifier, lang: str) -> None:
    guesses = detector.detect(SENTENCES[lang])
    assert guesses, f"{detector.name}: nothing for {lang}"
    assert guesses[0].lang == lang, f"{detector.name}: {guesses[:3]}"
    assert all(g.lang in SUPPORTED_LOCALES for g in guesses)
    assert all(0.0 <= g.confidence <= 1.0 for g in guesses)
    assert [g.confidence for g in guesses] == sorted((g.confidence for g in guesses), reverse=True)
    assert sum(g.confidence for g in guesses) <= 1.0 + 1e-9


@pytest.mark.parametrize("text", ["", "   ", "?", "123", "😀👍", "!!! 42 ...", "https://shop.example.com/a", "ok"])
def test_no_signal_gives_empty_list(detector: LanguageIdentifier, text: str) -> None:
    assert detector.detect(text) == []


def test_script_shortcuts_and_mixed_text(default_detector: LanguageIdentifier) -> None:
    assert default_detector.detect("DDP还是DDU")[0].lang == "zh"  # acronyms do not outvote Han
    assert default_detector.detect("reverse charge для юрлиц")[0].lang == "ru"
    assert default_detector.detect("送料はいくらですか")[0].lang == "ja"
    assert default_detector.detect("Do you ship to Москва?")[0].lang == "en"
    assert message_signal("iPhone 15 的运费是多少").script == "han"


def test_normalize_lang() -> None:
    assert normalize_lang("es-ES") == "es"
    assert normalize_lang("zh-TW") == "zh"
    assert normalize_lang("zh_Hans_CN") == "zh"
    assert normalize_lang("PT") == "pt"
    assert normalize_lang("xx-YY") is None
    assert normalize_lang(None) is None


def test_thread_safe(default_detector: LanguageIdentifier) -> None:
    texts = list(SENTENCES.values()) * 8
    expected = [default_detector.detect(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(default_detector.detect, texts)) == expected


# --- stickiness ----------------------------------------------------------------------------------------------


def _resolve(detector: LanguageIdentifier, text: str, lang: str | None = None, hint: str | None = None) -> str:
    return resolve_language(detector, text, ConversationContext(lang=lang, locale_hint=hint), default="en").lang


def test_spanish_conversation_keeps_spanish_on_short_replies(detector: LanguageIdentifier) -> None:
    for text in ("ok gracias", "ok", "👍", "?", "vale", "perfecto", "gracias!!"):
        assert _resolve(detector, text, lang="es") == "es", text


def test_script_change_switches(detector: LanguageIdentifier) -> None:
    assert _resolve(detector, "运费是多少？", lang="es") == "zh"
    assert _resolve(detector, "Сколько стоит доставка?", lang="es") == "ru"
    assert _resolve(detector, "送料はいくらですか", lang="zh") == "ja"
    # Kanji-only text stays Japanese in a Japanese conversation (Han is part of the Japanese script).
    assert _resolve(detector, "送料", lang="ja") == "ja"


def test_long_confident_message_switches_latin_language(detector: LanguageIdentifier) -> None:
    assert _resolve(detector, SENTENCES["en"], lang="es") == "en"
    assert _resolve(detector, SENTENCES["de"], lang="zh") == "de"
    assert _resolve(detector, "thank you", lang="zh") == "zh"  # too short to leave Chinese


def test_hint_decides_ambiguous_single_word(detector: LanguageIdentifier) -> None:
    assert _resolve(detector, "pedido", hint="pt-BR") == "pt"
    assert _resolve(detector, "pedido", hint="es-ES") == "es"
    assert _resolve(detector, "ok", hint="fr-FR") == "fr"
    assert _resolve(detector, "运费是多少？", hint="es-ES") == "zh"
    assert _resolve(detector, SENTENCES["de"], hint="fr-FR") == "de"


def test_no_context(default_detector: LanguageIdentifier) -> None:
    assert _resolve(default_detector, SENTENCES["lv"]) == "lv"
    assert _resolve(default_detector, "ok") == "en"  # no signal -> default
    guess = resolve_language(default_detector, "👍", None, default="de-DE")
    assert guess.lang == "de"
    assert guess.confidence == 0.0
