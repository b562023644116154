"""Query-side spelling repair (bot/nlu/spelling.py) against the real starter knowledge base's vocabulary."""

from __future__ import annotations

import timeit

import pytest

from bot.knowledge import files
from bot.nlu.spelling import CommonWords, SpellingRepair, fold, words_of
from bot.settings import REPO_ROOT


@pytest.fixture(scope="module")
def repair() -> SpellingRepair:
    kb = files.load(REPO_ROOT / "knowledge_base")
    examples = files.load_intents(REPO_ROOT / "knowledge_base")
    texts = [v.question for v in kb.variants()]
    texts += [e for by_locale in examples.values() for ex in by_locale.values() for e in ex]
    langs = {lang for by_locale in examples.values() for lang in by_locale}
    return SpellingRepair(words_of(texts), CommonWords(langs))


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("Quero fazer uma devolucao", "Quero fazer uma devolução"),  # accents restored...
        ("chce anulowac zamowienie", "chce anulować zamówienie"),
        ("Соедините меня с оператором, пожалуиста", "Соедините меня с оператором, пожалуйста"),  # й typed as и
        ("DEVOLUCAO", "DEVOLUÇÃO"),  # ...in the case they were typed
        ("quiero un reembolos", "quiero un reembolso"),  # one typo: swapped letters
        ("Wo ist meine Rechnnug?", "Wo ist meine Rechnung?"),
        ("can I get a refnud", "can I get a refund"),
        ("where is my pedidoo", "where is my pedido"),  # a doubled letter
    ],
)
def test_unknown_words_become_the_vocabulary_word_they_stand_for(repair, typed, meant):
    assert repair.repair(typed) == meant


@pytest.mark.parametrize(
    "text",
    [
        "I returned my boots for my sister's birthday",  # correct words the FAQ lacks ("boots" is one edit from "bots")
        "¿Hacen envíos a Chile?",  # accents typed are never taken away, even where a variant lacks them
        "配送にどのくらいかかりますか",  # scripts without spaces are left alone
        "Order 12345 of 03/11",
        "my card was charged twice",  # "card" is a word, not a typo of "cart"
    ],
)
def test_known_and_common_words_are_left_alone(repair, text):
    assert repair.repair(text) == text


def test_an_ambiguous_word_is_left_alone(repair):
    # Four letters or fewer have too many neighbours; a word one edit from two vocabulary words is not guessed.
    assert repair.word("shpi") is None
    assert repair.word("wehre") is None  # "where" or "were"


def test_extend_adds_a_layer_without_changing_the_original(repair):
    assert repair.word("giftcardz") is None
    more = repair.extend(["Do you sell giftcards?"])
    assert more.word("giftcardz") == "giftcards"
    assert repair.word("giftcardz") is None and not repair.knows("giftcards")
    assert repair.extend(["where is my order"]) is repair  # nothing new: the same repairer


def test_fold():
    assert fold("Envío") == "envio" and fold("Łódź") == "lodz" and fold("пожалуйста") == "пожалуиста"


def test_repair_is_cheap(repair):
    message = "Ola, quero fazer uma devolucao do meu pedidoo, ele chegou quebrado"
    per_message = timeit.timeit(lambda: repair.repair(message), number=200) / 200
    assert per_message < 0.005, f"{per_message * 1000:.2f} ms per message"  # ~0.5 ms on a quiet machine
