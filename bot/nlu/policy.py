"""Decision policy: answer, clarify or hand off, always with a reason and a confidence.

The policy reads two distributions: the intent classifier's over intents, and the
engine's fused distribution over FAQ entries (vector index + classifier). Its
thresholds are settings chosen on ``bench/data/dev.jsonl`` by ``bench/tune_policy.py``
(docs/decision-policy.md has the values and the trade-off).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.nlu.base import Action, ConversationContext
from bot.nlu.index import EntryScore
from bot.nlu.intents import IntentPrediction
from bot.nlu.normalise import is_yes
from bot.settings import Settings

PERSON_INTENTS = ("human_request", "complaint_urgent")
SMALL_TALK_INTENTS = ("greeting", "thanks_goodbye")


@dataclass
class PolicyOutcome:
    """What to do, why, and how sure the policy is."""

    action: Action
    reason: str
    confidence: float
    faq_id: str | None = None
    suggestions: list[EntryScore] = field(default_factory=list)
    #: An answer that also offers a person (a complaint whose question is clear).
    offer_person: bool = False


@dataclass
class ThresholdPolicy:
    """The default policy; every threshold is a probability.

    0. right after a ``decline`` (which offers a person), a yes hands off (``accepted_offer``);
    1. a request for a person at least ``human_threshold`` likely hands off, even when an FAQ entry
       is likelier; so does a complaint, unless its question is clear (the best entry at least
       ``complaint_answer_threshold`` sure): then it is answered together with an offer of a person;
       a non-FAQ intent at least ``intent_threshold`` sure decides: human request and complaint hand
       off, out-of-scope is declined (what the bot can help with, plus an offer of a person);
       greeting and thanks get a short reply;
    2. no entry is related at all (``relevant`` False: the engine's relevance floor on the best variant's
       cosine): decline (``unrelated``), whatever the probabilities say: they are relative, and an off-topic
       question among 150 entries still has a likeliest one; else the best entry at least
       ``answer_threshold`` sure: answer it;
    3. the best entry at least ``clarify_threshold`` sure and a second entry really close (at least
       ``close_ratio`` of the best): clarify with the up to 3 close entries, unless the previous
       turns were already unresolved (``max_unresolved_turns`` in a row hand off); a lone uncertain
       entry is no reason to ask: decline;
    4. otherwise hand off for low confidence.
    """

    # No defaults here: the thresholds' one source is ``Settings`` (chosen on dev); build with ``from_settings``
    # and vary one with ``dataclasses.replace`` (the benches do).
    answer_threshold: float
    clarify_threshold: float
    intent_threshold: float
    human_threshold: float
    max_unresolved_turns: int
    complaint_answer_threshold: float
    close_ratio: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ThresholdPolicy:
        return cls(
            answer_threshold=settings.answer_threshold,
            clarify_threshold=settings.clarify_threshold,
            intent_threshold=settings.intent_threshold,
            human_threshold=settings.human_threshold,
            max_unresolved_turns=settings.max_unresolved_turns,
            complaint_answer_threshold=settings.complaint_answer_threshold,
            close_ratio=settings.close_ratio,
        )

    def decide(
        self,
        intent: IntentPrediction,
        entries: list[EntryScore],
        context: ConversationContext,
        text: str = "",
        relevant: bool = True,
    ) -> PolicyOutcome:
        last = context.turns[-1] if context.turns else None
        if last is not None and last.action == "decline" and text and is_yes(text):
            return PolicyOutcome("handoff", "accepted_offer", 1.0)
        best = entries[0] if entries else None
        top = best.score if best else 0.0
        # Asking for a person or complaining wins even when an FAQ entry looks likelier: honouring it costs an
        # agent a minute, ignoring it is what shoppers hate most about support bots.
        wants_human = [i for i in PERSON_INTENTS if intent.probabilities.get(i, 0.0) >= self.human_threshold]
        if wants_human:
            best_intent = max(wants_human, key=lambda i: intent.probabilities[i])
            if best_intent == "complaint_urgent" and best is not None and top >= self.complaint_answer_threshold:
                # An angry but clear question: the answer now helps more than a queue; a person stays one word away.
                return PolicyOutcome("answer", "faq_match", top, faq_id=best.faq_id, offer_person=True)
            return PolicyOutcome("handoff", best_intent, intent.probabilities[best_intent])
        if intent.intent != "faq_question" and intent.confidence >= self.intent_threshold:
            if intent.intent in SMALL_TALK_INTENTS:
                return PolicyOutcome("answer", intent.intent, intent.confidence)
            if intent.intent == "out_of_scope":
                return PolicyOutcome("decline", "out_of_scope", intent.confidence)
            return PolicyOutcome("handoff", intent.intent, intent.confidence)

        if best is not None and not relevant:
            return PolicyOutcome("decline", "unrelated", top)
        if best is not None and top >= self.answer_threshold:
            return PolicyOutcome("answer", "faq_match", top, faq_id=best.faq_id)
        if best is None or top < self.clarify_threshold:
            return PolicyOutcome("handoff", "low_confidence", top)
        close = [e for e in entries[:3] if e.score >= max(self.clarify_threshold / 2, self.close_ratio * top)]
        if len(close) < 2:
            return PolicyOutcome("decline", "uncertain_match", top)
        if context.unresolved_streak + 1 >= self.max_unresolved_turns:
            return PolicyOutcome("handoff", "repeated_unresolved", top)
        return PolicyOutcome("clarify", "close_candidates", top, suggestions=close)
