"""What the letters of a message say about its language: scripts, words and letters, without any model.

Used by the detectors (:mod:`bot.nlu.langid`: decisive scripts skip the models) and by the stickiness policy
(:mod:`bot.nlu.stickiness`: a change of script always switches the conversation's language).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Supported languages written in the Latin script: the only ones a statistical model has to tell apart.
LATIN_LANGUAGES: frozenset[str] = frozenset({"en", "es", "fr", "de", "pt", "it", "nl", "lv", "pl", "tr"})

# Scripts each supported language is written in (Japanese mixes Han and Kana; Korean may carry Hanja, rarely).
LANGUAGE_SCRIPTS: dict[str, frozenset[str]] = {
    "zh": frozenset({"han"}),
    "ja": frozenset({"han", "kana"}),
    "ko": frozenset({"hangul"}),
    "ar": frozenset({"arabic"}),
    "ru": frozenset({"cyrillic"}),
    **{lang: frozenset({"latin"}) for lang in LATIN_LANGUAGES},
}

# Scripts that by themselves identify the language among the supported ones.
_DECISIVE_SCRIPTS = frozenset({"han", "kana", "hangul", "arabic", "cyrillic"})

# Share of a message's words a decisive script needs to decide it (see message_signal).
_DECISIVE_SHARE = 1 / 3
_JOINERS = frozenset("'’-")

# URLs and e-mail addresses are language-neutral noise ("www", "com", user names) for n-gram models.
#: URLs and e-mail addresses (also left out of what the engine embeds: bot/nlu/normalise.py).
URL_OR_EMAIL = r"(?:https?://|www\.)\S+|\S+@\S+\.\w+"
_NOISE_RE = re.compile(URL_OR_EMAIL, re.IGNORECASE)

# Chat tokens used the same way in every supported Latin-script language: they carry no language signal, and
# detectors guess them wildly (langidentify: "ok" -> Polish 0.96).  "ok gracias" is judged on "gracias".
_NEUTRAL_TOKENS = frozenset({
    "ok", "okay", "okey", "k", "kk", "hi", "hey", "lol", "xd", "thx", "pls", "plz", "wow",
    "hmm", "hm", "mm", "ah", "oh", "eh", "uh", "haha", "hahaha", "hehe",
})

def char_script(ch: str) -> str | None:
    """The script of one letter (``latin``, ``han``, ``kana``, ``hangul``, ``arabic``, ``cyrillic``, ``other``)."""
    if not ch.isalpha():
        return None
    cp = ord(ch)
    if cp < 0x0250 or 0x1E00 <= cp <= 0x1EFF or 0xFF21 <= cp <= 0xFF5A:
        return "latin"
    if 0x0400 <= cp <= 0x052F:
        return "cyrillic"
    if 0x0600 <= cp <= 0x08FF or 0xFB50 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFF:
        return "arabic"
    if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9D:
        return "kana"
    if 0xAC00 <= cp <= 0xD7FF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F or 0xA960 <= cp <= 0xA97F:
        return "hangul"
    if (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
        or cp in (0x3005, 0x3007)  # 々 〇
    ):
        return "han"
    return "other"


@dataclass(frozen=True)
class MessageSignal:
    """How much language signal a message carries: its dominant script, letters and words."""

    script: str | None
    letters: int
    words: int
    script_words: Mapping[str, int]

    @property
    def decisive(self) -> bool:
        """True when the dominant script alone identifies the language (Han, Kana, Hangul, Arabic, Cyrillic)."""
        return self.script in _DECISIVE_SCRIPTS


def strip_noise(text: str) -> str:
    """``text`` without URLs, e-mail addresses and language-neutral chat tokens ("ok", "lol", "thx")."""
    tokens = _NOISE_RE.sub(" ", text).split()
    return " ".join(t for t in tokens if "".join(c for c in t if c.isalpha()).lower() not in _NEUTRAL_TOKENS)


def _script_runs(text: str) -> list[tuple[str, str]]:
    """Maximal runs of letters of one script, as ``(script, letters)``; apostrophes and hyphens join a run."""
    runs: list[tuple[str, str]] = []
    script: str | None = None
    letters: list[str] = []
    for ch in text:
        ch_script = char_script(ch)
        if ch_script is None and ch in _JOINERS and letters:
            continue
        if ch_script != script:
            if letters and script is not None:
                runs.append((script, "".join(letters)))
            script, letters = ch_script, []
        if ch_script is not None:
            letters.append(ch)
    if letters and script is not None:
        runs.append((script, "".join(letters)))
    return runs


def message_signal(text: str) -> MessageSignal:
    """Words per script, letters and the dominant script of ``text`` (URLs, e-mails, "ok"-like tokens ignored).

    A word is a run of letters of one script; CJK runs count one word per two characters (no spaces there).
    The dominant script decides which path a message takes.  Upper-case Latin acronyms (``GDPR``, ``DDP``,
    ``DHL``) are language-neutral and do not vote, and a decisive script (Han/Kana/Hangul/Arabic/Cyrillic) wins
    with a third of the words: shoppers writing Chinese or Russian mix in Latin brand names and terms
    ("iPhone 15 的运费是多少", "reverse charge для юрлиц"), whereas a Latin-script message with one foreign name
    ("Do you ship to Москва?") is still Latin.
    """
    runs = _script_runs(strip_noise(text))
    letters = sum(len(run) for _, run in runs)
    votes: dict[str, int] = {}
    acronyms: dict[str, int] = {}
    for script, run in runs:
        if script in ("han", "kana"):
            votes[script] = votes.get(script, 0) + math.ceil(len(run) / 2)
        elif script == "latin" and len(run) >= 2 and run.isupper():
            acronyms[script] = acronyms.get(script, 0) + 1
        else:
            votes[script] = votes.get(script, 0) + 1
    if not votes:  # all-caps text ("WHERE IS MY ORDER", "OK") is still Latin
        votes = acronyms
    words = sum(votes.values()) + (sum(acronyms.values()) if votes is not acronyms else 0)
    return MessageSignal(script=_dominant_script(votes), letters=letters, words=words, script_words=votes)


def _dominant_script(votes: Mapping[str, int]) -> str | None:
    """The script with most words, unless a decisive script has at least ``_DECISIVE_SHARE`` of them."""
    if not votes:
        return None
    total = sum(votes.values())
    cjk = votes.get("han", 0) + votes.get("kana", 0)
    # Han and Kana are one writing system here: any real amount of Kana makes it Japanese, Han alone Chinese.
    grouped = {s: n for s, n in votes.items() if s not in ("han", "kana")}
    if cjk:
        grouped["kana" if votes.get("kana", 0) >= max(1.0, 0.1 * cjk) else "han"] = cjk
    decisive = {s: n for s, n in grouped.items() if s in _DECISIVE_SCRIPTS}
    if decisive:
        best = max(decisive, key=lambda s: decisive[s])
        if decisive[best] >= _DECISIVE_SHARE * total:
            return best
    return max(grouped, key=lambda s: grouped[s])


#: Sentence ends: Latin and other punctuation followed by a space, CJK full stops (no space), line breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])|\n+")
#: At most this many sentences are read on their own (the rest only as part of the whole message).
MAX_SENTENCES = 6


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` when it has at least two (else ``[]``: the whole message is the one reading)."""
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    parts = [p for p in parts if len(p) >= 2]
    return parts[:MAX_SENTENCES] if len(parts) >= 2 else []
