"""What the engine reads from the intent examples besides the classifier's training data.

None of it depends on the FAQ, so each view is built once per process, on first use:

- the greeting and thanks examples as vectors: a message is small talk only if one of them is nearer to it than
  every question variant (the classifier alone called "order", "Rechnung" or "送料" thanks: one-word messages sit
  near the short small-talk examples);
- the same examples as phrases to find inside a message (bot/nlu/small_talk.py);
- the examples' words, all locales, as the base vocabulary of spelling repair (bot/nlu/spelling.py);
- the emoji that are a greeting or thanks on their own (the ``any`` locale), for messages of emoji alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bot.nlu.embedders import CachedEmbedder
from bot.nlu.policy import SMALL_TALK_INTENTS
from bot.nlu.small_talk import PictographSmallTalk, SmallTalkLexicon
from bot.nlu.spelling import CommonWords, SpellingRepair, words_of

#: ``centre(vectors, langs, centred)``: the knowledge's language centring (``LiveKnowledge.centre``).
Centre = Callable[[np.ndarray, list[str], bool], np.ndarray]


class IntentExampleViews:
    """Views of ``examples`` (intent -> locale -> texts). A view built twice by two threads is the same view."""

    def __init__(
        self,
        examples: dict[str, dict[str, list[str]]],
        embedder: CachedEmbedder,
        centre: Centre,
        pictographs: dict[str, list[str]] | None = None,
    ) -> None:
        self.examples = examples  # by language: the ``any`` locale's emoji come apart, as ``pictographs``
        self.pictographs = pictographs or {}
        self.embedder = embedder
        self.centre = centre
        self._small_talk: dict[bool, np.ndarray] = {}
        self._lexicon: SmallTalkLexicon | None = None
        self._spelling: SpellingRepair | None = None
        self._pictographs: PictographSmallTalk | None = None

    def small_talk_similarity(self, query: np.ndarray, centred: bool = False) -> float:
        """Cosine of ``query`` (as the engine embeds it) to the nearest greeting or thanks example, any language."""
        if centred not in self._small_talk:
            texts: list[str] = []
            langs: list[str] = []
            for intent in SMALL_TALK_INTENTS:
                for lang, examples in self.examples.get(intent, {}).items():
                    texts.extend(examples)
                    langs.extend([lang] * len(examples))
            vectors = self.embedder.embed_passages(texts) if texts else np.zeros((1, self.embedder.dim), np.float32)
            self._small_talk[centred] = self.centre(vectors, langs, centred) if texts else vectors
        return float((self._small_talk[centred] @ query).max())

    def small_talk_lexicon(self) -> SmallTalkLexicon:
        """The greeting and thanks examples as phrases to find inside a message."""
        if self._lexicon is None:
            by_intent = self.examples
            self._lexicon = SmallTalkLexicon(
                e for intent in SMALL_TALK_INTENTS for texts in by_intent.get(intent, {}).values() for e in texts
            )
        return self._lexicon

    def pictograph_intent(self, text: str) -> str | None:
        """``greeting`` or ``thanks_goodbye`` for a message of nothing but such emoji ("👋", "🙏🏻"), else None."""
        if self._pictographs is None:
            self._pictographs = PictographSmallTalk(
                {intent: self.pictographs.get(intent, []) for intent in SMALL_TALK_INTENTS}
            )
        return self._pictographs.intent(text)

    def spelling(self) -> SpellingRepair:
        """The examples' vocabulary, all locales (each build adds the FAQ's variants with ``extend``)."""
        if self._spelling is None:
            texts = (e for by_locale in self.examples.values() for ex in by_locale.values() for e in ex)
            langs = {lang for by_locale in self.examples.values() for lang in by_locale}
            self._spelling = SpellingRepair(words_of(texts), CommonWords(langs))
        return self._spelling
