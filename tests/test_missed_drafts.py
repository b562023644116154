"""Which agent reply becomes the draft answer of a missed-question group (bot/editor/missed.py): substance, never
a greeting, in the shop's languages. The end-to-end path (console reply -> editor draft) is in test_browser_ux.py."""

from __future__ import annotations

import pytest

from bot.editor.missed import informativeness

FILLER = [
    "Hola, soy Ana, ¿en qué puedo ayudarte?",
    "Hi! I'm Sam. Let me check.",
    "Bonjour, je suis Léa.",
    "Hallo, ich bin Max. Einen Moment bitte.",
    "Gracias por esperar.",
    "Un momento, por favor.",
    "你好，我是李。",
    "こんにちは！",
    "Здравствуйте! Меня зовут Олег.",
    "Cześć, jestem Ola.",
    "Merhaba!",
    "Thanks!",
]
ANSWERS = [
    "Las tarjetas regalo se compran en la web y llegan por email en cinco minutos.",
    "Hi, I'm Sam. Gift cards are sold online and arrive by email within five minutes.",
    "Bonjour ! Nous vendons uniquement en ligne : pas de magasin à visiter.",
    "礼品卡可以在网站上购买，五分钟内通过电子邮件发送。",
]


@pytest.mark.parametrize("text", FILLER)
def test_greetings_and_pleasantries_are_no_answer(text: str) -> None:
    assert informativeness(text) == 0


@pytest.mark.parametrize("text", ANSWERS)
def test_a_reply_with_substance_counts_without_its_greeting(text: str) -> None:
    assert informativeness(text) > 0


def test_more_substance_wins() -> None:
    short = "Sí, se compran en la web y llegan por email."
    long = "Sí: se compran en la web, llegan por email en cinco minutos y valen un año en toda la tienda."
    assert informativeness(long) > informativeness(short) > 0
    assert informativeness("¡Hola! Soy Ana. " + long) == informativeness(long)
