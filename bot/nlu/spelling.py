"""Query-side spelling repair against the knowledge base's own words.

Shoppers drop accents ("envio", "devolucao") and slip a finger ("reembolos"); the e5 tokenizer cuts such a
word into unrelated pieces, and one word can move the message to another entry or to a handoff
(docs/benchmarks.md, issue 7). Folding accents on both sides measured worse (e5 reads "é" as meaning), so the
shopper's word is mapped back onto the vocabulary the engine knows: the words of the published question
variants and of the intent examples, all locales.

A word is repaired only when it is not in that vocabulary and

1. its accent-folded form is the folded form of exactly one vocabulary word: that word ("envio" -> "envío"); else
2. it has at least ``MIN_TYPO_LETTERS`` letters, exactly one vocabulary word is one edit away (insert, delete,
   substitute or swap two neighbours; SymSpell), and the word is not a common word of one of the knowledge's
   languages (wordfreq's lists): that word. "boots" must not become "bots", nor "funcionan" "funciona".

Accents are only ever added: "envíos" typed with its accent stays, even where a variant spells it "envios".

Only Latin, Cyrillic and Greek words are touched: scripts without spaces have no words to look up.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from symspellpy import SymSpell, Verbosity
from wordfreq import available_languages, zipf_frequency

from bot.nlu.normalise import fold_case

#: Shorter words have too many neighbours one edit away ("size"/"sie"/"site") to guess which one was meant.
MIN_TYPO_LETTERS = 5
#: Runs of letters (digits and underscores are not words to repair).
_WORD = re.compile(r"[^\W\d_]+")
#: Letters without a decomposition that people type plainly when they skip diacritics.
_PLAIN = str.maketrans({"ł": "l", "ı": "i", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe"})
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
#: Languages whose words are never repaired here (and whose wordfreq lists need MeCab or jieba to read).
_NOT_REPAIRED = {"ja", "ko", "zh"}


def fold(word: str) -> str:
    """``word`` lower-cased without diacritics ("Envío" -> "envio", "й" -> "и")."""
    decomposed = unicodedata.normalize("NFD", fold_case(word).translate(_PLAIN))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _repairable(word: str) -> bool:
    return all(any(s in unicodedata.name(c, "") for s in _SCRIPTS) for c in word)


def words_of(texts: Iterable[str]) -> set[str]:
    """The lower-cased words of ``texts`` in the scripts this module repairs."""
    out: set[str] = set()
    for text in texts:
        found = (fold_case(m) for m in _WORD.findall(unicodedata.normalize("NFC", text)))
        out.update(w for w in found if _repairable(w))
    return out


class CommonWords:
    """Whether a word is common in one of ``languages`` (wordfreq's "small" lists: about the 30k likeliest)."""

    def __init__(self, languages: Iterable[str]) -> None:
        self.languages = sorted((set(languages) - _NOT_REPAIRED) & set(available_languages("small")))
        for lang in self.languages:  # load the lists now, not on a shopper's message
            zipf_frequency("a", lang, wordlist="small")

    def __call__(self, word: str) -> bool:
        return any(zipf_frequency(word, lang, wordlist="small") > 0 for lang in self.languages)


class SpellingRepair:
    """Maps a shopper's unknown words onto the knowledge vocabulary (see the module docstring). Immutable.

    ``is_common(word)`` says whether a word is a common word of some language (then it is never treated as a
    typo); ``extend`` returns a repairer that also knows new words without copying this one (editor publishes).
    """

    def __init__(self, words: Iterable[str], is_common: Callable[[str], bool]) -> None:
        self._layers = [_Layer(set(words))]
        self.is_common = is_common

    def extend(self, texts: Iterable[str]) -> SpellingRepair:
        """This repairer plus the words of ``texts`` (a small new layer; this one is shared, not changed)."""
        new = {w for w in words_of(texts) if not self.knows(w)}
        if not new:
            return self
        out = object.__new__(SpellingRepair)
        out._layers = [*self._layers, _Layer(new)]
        out.is_common = self.is_common
        return out

    def knows(self, word: str) -> bool:
        return any(word in layer.words for layer in self._layers)

    def repair(self, text: str) -> str:
        """``text`` with unknown words replaced by the vocabulary word they most likely are (else unchanged)."""
        return _WORD.sub(self._repair_match, unicodedata.normalize("NFC", text))

    def word(self, word: str) -> str | None:
        """The vocabulary word ``word`` (lower case) stands for, or None to leave it alone."""
        if self.knows(word) or not _repairable(word):
            return None
        folded = fold(word)
        if folded == word:  # typed without accents: the one vocabulary word it is with them
            accented = set().union(*(layer.by_fold.get(folded, ()) for layer in self._layers))
            if len(accented) == 1:
                return accented.pop()
            if accented:
                return None
        if len(word) < MIN_TYPO_LETTERS:
            return None
        near: set[str] = set()
        for layer in self._layers:
            near.update(layer.near(word))
            if len(near) > 1:
                return None
        # Checked last: most unknown words have no single neighbour, and this is the slower test.
        return near.pop() if near and not self.is_common(word) else None

    def _repair_match(self, match: re.Match[str]) -> str:
        typed = match.group()
        found = self.word(fold_case(typed))
        if found is None:
            return typed
        if typed.isupper() and len(typed) > 1:
            return found.upper()
        return found[:1].upper() + found[1:] if typed[:1].isupper() else found


class OneTypo:
    """Which of some terms are one typo from a text: a letter dropped, added or changed, or two neighbours swapped
    (Damerau-OSA distance at most 1, by SymSpell). Terms may be phrases: a space is one more character."""

    def __init__(self, terms: Iterable[str]) -> None:
        terms = list(terms)
        # Prefix as long as any term, so an edit anywhere counts; count 1 each: no term is likelier than another.
        self._symspell = SymSpell(max_dictionary_edit_distance=1,
                                  prefix_length=max([64, *(len(t) + 1 for t in terms)]))
        for t in terms:
            self._symspell.create_dictionary_entry(t, 1)

    def near(self, text: str) -> list[str]:
        """The terms at most one typo from ``text`` (``text`` itself when it is one)."""
        return [s.term for s in self._symspell.lookup(text, Verbosity.ALL, max_edit_distance=1)]


class _Layer:
    """One set of vocabulary words with its two lookups: by folded form, and one typo away."""

    def __init__(self, words: set[str]) -> None:
        self.words = frozenset(words)
        self.by_fold: dict[str, set[str]] = {}
        for w in self.words:
            self.by_fold.setdefault(fold(w), set()).add(w)
        # A doubled letter makes a 4-letter word a 5-letter typo.
        self.near = OneTypo(w for w in self.words if len(w) >= MIN_TYPO_LETTERS - 1).near
