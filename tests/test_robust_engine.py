"""Issue 7 on the real engine: the same decision however a message is typed, one-word topics, out of scope.

Real model, real starter knowledge base, no mocks.
"""

from __future__ import annotations

import pytest

from bot.i18n import t
from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase, LocaleContent
from bot.nlu.base import ConversationContext
from bot.nlu.normalise import is_yes, normalise, without_references
from bot.nlu.pipeline import build_engine
from bot.settings import REPO_ROOT, Settings


@pytest.fixture(scope="module")
def engine():
    return build_engine(Settings())


def test_normalise_folds_case_and_shouting_but_keeps_scripts():
    assert normalise("WHERE IS MY ORDER?!!") == "where is my order?"
    assert normalise("  İade   nasıl?? ") == "iade nasıl?"
    assert normalise("Über den Versand", fold_accents=True) == "uber den versand"
    assert normalise("配送が遅い", fold_accents=True) == "配送が遅い"  # dakuten are not accents
    assert is_yes("Sí, por favor!") and is_yes("はい") and not is_yes("yes but where is my order")


@pytest.mark.parametrize(
    "typed",
    [
        ("ich möchte mit einem mitarbeiter sprechen", "Ich möchte mit einem Mitarbeiter sprechen"),
        ("i want to talk to a human", "I WANT TO TALK TO A HUMAN!!"),
        ("quiero hablar con una persona", "QUIERO HABLAR CON UNA PERSONA!!!"),
    ],
)
def test_capitals_and_shouting_do_not_flip_a_handoff(engine, typed):
    decisions = [engine.respond(text) for text in typed]
    assert [(d.action, d.reason) for d in decisions] == [("handoff", "human_request")] * len(typed)


def test_shouted_question_gets_the_same_answer(engine):
    quiet = engine.respond("where is my order?")
    loud = engine.respond("WHERE IS MY ORDER?!!")
    assert (loud.action, loud.faq_id) == (quiet.action, quiet.faq_id) == ("answer", "order-tracking")


@pytest.mark.parametrize("word", ["order", "Rechnung", "送料", "Kargo"])
def test_a_one_word_topic_is_not_greeted_or_thanked(engine, word):
    d = engine.respond(word)
    assert d.reason not in ("greeting", "thanks_goodbye")
    assert d.action in ("answer", "clarify")
    assert d.faq_id or d.suggestions


# Written for this test, apart from the bench sets: topic words in the 15 languages, some of which sit nearer to a
# greeting or thanks example than to any question variant ("bill", "مال": the rule before the lexical check).
TOPIC_WORDS = [
    "bill",
    "cash",
    "voucher",
    "devolución",
    "frais de douane",
    "Versand",
    "Gutschein",
    "frete",
    "cambio taglia",
    "verzending",
    "退货地址",
    "税金",
    "교환 신청",
    "скидка",
    "مال",
    "الشحن",
    "izmēru tabula",
    "kupon",
    "kupon kodu",
]
GREETINGS_AND_THANKS = [
    "hello there!",
    "Bonjour à vous",
    "Hllo",
    "mrci !",
    "你好，在吗",
    "ありがとうございます！",
    "شكرا لك",
    "paldies par palīdzību",
    "Cześć, dzień dobry",
    "Merhabalar",
    "obrigado, tchau",
    "Thanks a ton!",
    "grazie, ciao",
]


def test_topic_words_never_get_small_talk_and_greetings_do(engine):
    topics = {w: engine.respond(w).reason for w in TOPIC_WORDS}
    assert {w: r for w, r in topics.items() if r in ("greeting", "thanks_goodbye")} == {}
    small_talk = {w: engine.respond(w).reason for w in GREETINGS_AND_THANKS}
    assert {w: r for w, r in small_talk.items() if r not in ("greeting", "thanks_goodbye")} == {}


@pytest.mark.parametrize(
    "opener",
    ["I have a question", "Ich habe eine Frage", "質問があります", "Можно задать вопрос?", "Bir şey sorabilir miyim?"],
)
def test_announcing_a_question_is_invited_not_handed_off(engine, opener):
    """"I have a question" was handed off as a complaint or a request for a person, or offered FAQ entries."""
    ctx = ConversationContext()
    d = engine.respond(opener, ctx)
    assert (d.action, d.reason) == ("answer", "greeting"), d.reason
    assert engine.respond("Do you ship to Canada?", ctx).faq_id == "delivery-countries"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("Can you help me?", "greeting"), ("Kannst du mir helfen?", "greeting"), ("Можете мне помочь?", "greeting"),
     ("Możesz mi pomóc?", "greeting"), ("Can a real person help me?", "human_request"),
     ("Kann mir ein Mitarbeiter helfen?", "human_request"), ("Niech mi pomoże konsultant", "human_request")],
)
def test_asking_the_bot_for_help_is_invited_and_asking_for_a_person_hands_off(engine, text, reason):
    """"Can you help me?" was handed off as a request for a person in 13 of 15 languages (bench/data/help_dev)."""
    assert engine.respond(text, ConversationContext()).reason == reason


def test_small_talk_needs_a_greeting_or_thanks_example_in_the_message(engine):
    lexicon = engine.knowledge.examples.small_talk_lexicon()
    for text in ("Hola!", "GGuten Tag!", "Hllo", "mrci !", "你好，在吗", "thanks, bye"):
        assert lexicon.contains_example(text), text
    # Letters shared with a greeting are not a greeting; one typo from a short example ("kara"/"nara") is not either.
    for text in ("bill", "cash", "kara", "kupon", "税金", "where is my parcel"):
        assert not lexicon.contains_example(text), text


@pytest.mark.parametrize(
    ("text", "reason"),
    [("👋", "greeting"), ("👋🏼👋🏼", "greeting"), ("🙏", "thanks_goodbye"), ("👍", "thanks_goodbye"),
     ("🙏🏻", "thanks_goodbye"), ("❤️", "thanks_goodbye")],
)
def test_emoji_alone_get_small_talk_in_the_conversations_language(engine, text, reason):
    """No words, so no language to detect and nothing to look up: the shopper was greeted or thanked before
    (a clarify between FAQ entries or a handoff to a person answered these)."""
    d = engine.respond(text, ConversationContext(locale_hint="fr-FR"))
    assert (d.action, d.reason, d.lang) == ("answer", reason, "fr")


def test_emoji_do_not_make_small_talk_of_a_question_or_of_punctuation(engine):
    assert engine.respond("Do you ship to Brazil? 🇧🇷 🙏").faq_id == "delivery-countries"
    assert engine.respond("??").reason not in ("greeting", "thanks_goodbye")
    lexicon = engine.knowledge.examples.small_talk_lexicon()
    assert lexicon.contains_example("merci ❤️") and not lexicon.contains_example("?? !!")


def test_order_numbers_urls_and_emails_are_not_read_as_words():
    assert without_references("Hallo #G35322") == "Hallo"
    assert without_references("AV-2026-55120 Where is my parcel?") == "Where is my parcel?"
    assert without_references("订单12345在哪里") == "订单 在哪里"
    assert without_references("my email is jan@example.com, see https://shop.example/o/1") == "my email is , see"
    # Sizes, prices and short numbers are part of the question; a bare number is left as typed.
    for text in ("신발 260mm 신는데 EU 사이즈로 몇이에요?", "size 44 please", "is 100€ enough", "A10293"):
        assert without_references(text) == text


def test_an_order_number_does_not_change_the_decision(engine):
    """Pasted after a greeting or a request for a person it drew them to FAQ entries (dev: 13 % of decisions)."""
    for text, ref in (("Hallo!", "#G35322"), ("I want to talk to a person", "AV-2026-55120"),
                      ("¿Dónde está mi pedido?", "#48113")):
        plain, with_ref = engine.respond(text), engine.respond(f"{text} {ref}")
        assert (with_ref.action, with_ref.faq_id, with_ref.lang) == (plain.action, plain.faq_id, plain.lang), text


def test_out_of_scope_is_declined_and_a_yes_hands_off(engine):
    ctx = ConversationContext()
    d = engine.respond("who won the football match yesterday?", ctx)
    assert (d.action, d.reason, d.faq_id) == ("decline", "out_of_scope", None)
    assert d.reply and not d.suggestions
    assert d.to_json()["action"] == "decline"
    yes = engine.respond("Yes please", ctx)
    assert (yes.action, yes.reason) == ("handoff", "accepted_offer")


def test_a_person_asked_for_after_a_decline_hands_off(engine):
    ctx = ConversationContext(locale_hint="es-ES")
    d = engine.respond("¿Me recomiendas una receta de paella?", ctx)
    assert d.action == "decline" and d.lang == "es" and d.reply != engine.respond("who won?").reply
    after = engine.respond("Quiero hablar con alguien del equipo", ctx)
    assert after.action == "handoff"
    # A plain yes outside a decline is no request for a person.
    assert engine.respond("yes").reason != "accepted_offer"


def test_english_only_knowledge_base_answers_a_spanish_question():
    kb = files.load(REPO_ROOT / "knowledge_base")
    english_only = KnowledgeBase(
        {e.id: Entry(e.id, {"en": e.locales["en"]}, e.topic) for e in kb.entries.values()}, default_locale="en"
    )
    solo = build_engine(Settings(translator="none"), kb=english_only)
    d = solo.respond("¿Cuánto tarda en llegar mi pedido a México?", ConversationContext(locale_hint="es-MX"))
    assert (d.action, d.faq_id, d.lang) == ("answer", "shipping-times", "es")
    # Emoji-only examples (the ``any`` locale) are learnt whatever languages the FAQ has.
    d = solo.respond("👋", ConversationContext(locale_hint="es-MX"))
    assert (d.action, d.reason, d.lang) == ("answer", "greeting", "es")


def test_an_angry_but_clear_question_is_answered_with_an_offer_of_a_person(engine):
    d = engine.respond("This is ridiculous!! My parcel arrived today and the vase inside is broken. What do I do now?")
    assert (d.action, d.faq_id) == ("answer", "damaged-item")
    assert d.reply.startswith(engine.kb.entries["damaged-item"].locales["en"].answer)
    assert d.reply.endswith(t("offer_person", "en", "bot"))
    # A complaint with no clear question still goes to a person.
    assert engine.respond("YOU CHARGED ME TWICE, this is fraud, fix it now!!!").action == "handoff"


@pytest.mark.parametrize(
    ("opening", "feedback"),
    [
        ("Where is my order?", "This doesn't answer my question"),
        ("Où est ma commande ?", "Ça ne m'aide pas du tout"),
        ("我的订单在哪里？", "我问的不是这个"),
        ("Gdzie jest moje zamówienie?", "Nie o to pytałem"),
    ],
)
def test_saying_the_answer_did_not_help_reaches_a_person(engine, opening, feedback):
    """Not another FAQ answer ("that didn't help" read like a damaged item) or a choice of entries."""
    ctx = ConversationContext()
    assert engine.respond(opening, ctx).action == "answer"
    d = engine.respond(feedback, ctx)
    assert (d.action, d.intent) == ("handoff", "complaint_urgent"), d.reason


@pytest.mark.parametrize(
    ("typed", "slipped"),
    [
        ("Wo ist meine Rechnung?", "Wo ist meine Rechnnug?"),
        ("Où est ma commande ?", "Ou est ma commnade ?"),
        ("Chcę anulować zamówienie", "Chce anulowac zamowienie"),
        ("How long does shipping take?", "How long does shiping take?"),
    ],
)
def test_a_typo_or_missing_accents_get_the_same_decision(engine, typed, slipped):
    as_typed, repaired = engine.respond(typed), engine.respond(slipped)
    assert as_typed.action == "answer"
    assert (repaired.action, repaired.faq_id) == (as_typed.action, as_typed.faq_id)


def test_words_of_an_entry_published_in_the_editor_are_repaired_at_once(engine):
    content = LocaleContent("Gift cards go from 10 to 200 euros.", ["Do you sell giftcards?"])
    entry = Entry("gift-cards", {"en": content})
    preview = engine.preview({"gift-cards": entry})
    assert preview.snapshot().spelling.repair("giftcardz please") == "giftcards please"
    assert engine.snapshot().spelling.repair("giftcardz please") == "giftcardz please", "the live state is untouched"
