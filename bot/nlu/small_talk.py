"""Lexical evidence of small talk: does a message contain one of the greeting or thanks examples?

The intent classifier and the embeddings both read one-word topics as small talk: "money", "soldi",
"para" or "muita" sit near short greetings ("gracias", "salut", "pa", "muy amable") because they share
letters, not meaning, and single words sit far from the full-sentence question variants. A real
greeting or thanks almost always contains a greeting or thanks word ("hola", "Danke schön, tschüss!",
"在吗？有人吗"), so the engine greets or thanks only when the message contains one of the examples
(knowledge_base/intents/greeting.yaml, thanks_goodbye.yaml) as whole words, compared without case,
accents or punctuation. One typo ("Hllo", "mrci", "GGuten Tag"; the same edits as the spelling
repair, by SymSpell) still counts for examples of at least five letters: shorter ones are one typo
away from too many words ("nara", Polish for bye, and "para", Turkish for money).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping

from bot.nlu.normalise import normalise
from bot.nlu.spelling import OneTypo

_WORDS = re.compile(r"\w+")
#: Scripts written without spaces between words (Han, Kana): an example counts anywhere inside a message.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: Shortest example (in letters) that still counts one typo away.
MIN_FUZZY_LETTERS = 5


def words(text: str) -> str:
    """``text`` as lower-case, accent-free words separated by single spaces (punctuation dropped)."""
    return " ".join(_WORDS.findall(normalise(text, fold_accents=True)))


def _windows(tokens: list[str], longest: int) -> Iterator[str]:
    """Every run of up to ``longest`` consecutive words."""
    for n in range(1, min(longest, len(tokens)) + 1):
        for start in range(len(tokens) - n + 1):
            yield " ".join(tokens[start : start + n])


#: Longest message that still needs a greeting or thanks example in it: topic words are one or two words
#: (or up to four Han/Kana characters); longer messages the classifier reads well ("Ich habe eine Frage").
SHORT_WORDS = 2
SHORT_UNSPACED = 4


def is_short(text: str) -> bool:
    """One or two words, or up to four characters of a script without spaces ("送料", "退货地址")."""
    message = words(text)
    return len(message.split()) <= SHORT_WORDS and len(_UNSPACED.findall(message)) <= SHORT_UNSPACED


class SmallTalkLexicon:
    """The greeting and thanks examples, as phrases to look for inside a message."""

    def __init__(self, examples: Iterable[str]) -> None:
        phrases = {words(e) for e in examples} - {""}
        self.spaced = {p for p in phrases if not _UNSPACED.search(p)}
        self.unspaced = phrases - self.spaced
        self.longest = max((len(p.split()) for p in phrases), default=1)
        self.fuzzy = OneTypo(p for p in phrases if len(p.replace(" ", "")) >= MIN_FUZZY_LETTERS)

    def contains_example(self, text: str) -> bool:
        """True when some greeting or thanks example occurs in ``text`` (whole words; anywhere for Han/Kana),
        exactly or one typo away."""
        message = words(text)
        padded = f" {message} "
        if any(p in message for p in self.unspaced) or any(f" {p} " in padded for p in self.spaced):
            return True
        return any(
            self.fuzzy.near(window)
            for window in _windows(message.split(), self.longest)
            if len(window.replace(" ", "")) >= MIN_FUZZY_LETTERS - 1
        )


def pictographs(text: str) -> list[str]:
    """The pictographs of a message made of nothing else ("👋🏼👋🏼" -> ["👋", "👋"]; skin tones and variation
    selectors are not symbols); [] when it has a letter or digit, or no pictograph ("??")."""
    if any(ch.isalnum() for ch in text):
        return []
    return [ch for ch in text if unicodedata.category(ch) == "So"]


class PictographSmallTalk:
    """Emoji that are a greeting or a thanks on their own (the intents' ``any`` examples).

    A message of emoji alone has no words: no language to detect, nothing for the classifier or the index to
    read (the engine used to offer "👋" a choice of FAQ entries and hand "🙏" to a person). Messages with words
    are left to the classifier, so these examples change nothing else.
    """

    def __init__(self, examples: Mapping[str, Iterable[str]]) -> None:
        self.intent_of: dict[str, str] = {}
        for intent, texts in examples.items():
            for text in texts:
                for symbol in pictographs(text):
                    self.intent_of.setdefault(symbol, intent)

    def intent(self, text: str) -> str | None:
        """The small-talk intent of a message of known emoji only (that of its first one), else None."""
        found = pictographs(text)
        if not found or any(symbol not in self.intent_of for symbol in found):
            return None
        return self.intent_of[found[0]]
