"""Text normalisation before embedding: the same message gets the same vector however it is typed.

The e5 model is case-sensitive, and the knowledge base is mostly written in lower case, so
"Ich möchte mit einem Mitarbeiter sprechen" and "WHERE IS MY ORDER?!!" land far from the
variants they mean. Normalising both sides (shopper messages, question variants, intent
examples) removes that difference for free; ``bench/normalisation_ablation.py`` measured it
against augmenting the training examples on perturbed copies of the dev set
(docs/benchmarks.md, issue 7).

Only what never carries meaning in a support question is removed: case, repeated
punctuation, runs of whitespace, and (setting ``fold_accents``) Latin diacritics. Other
scripts are left alone: stripping combining marks would turn Japanese が into か and
break Hangul syllables.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from bot.nlu.scripts import URL_OR_EMAIL

#: "?!!", "!!!", "..." and friends: keep the first mark (a question stays a question).
_REPEATED_PUNCT = re.compile(r"([!?.,;:¡¿！？。、])[!?.,;:¡¿！？。、]+")
_SPACES = re.compile(r"\s+")


def fold_case(text: str) -> str:
    # Turkish dotted capital İ lower-cases to "i" + U+0307 (combining dot): drop the dot so "İade" matches "iade".
    return text.lower().replace("i\u0307", "i")


def _fold_latin_accents(text: str) -> str:
    """Remove diacritics from Latin letters only (é -> e, ł -> l stays: it has no decomposition)."""
    out = []
    for ch in text:
        if ch.isascii() or "LATIN" not in unicodedata.name(ch, ""):
            out.append(ch)
            continue
        base = unicodedata.normalize("NFD", ch)
        out.append("".join(c for c in base if not unicodedata.combining(c)))
    return "".join(out)


def normalise(text: str, fold_accents: bool = False) -> str:
    """Case-folded, repeated punctuation collapsed, whitespace collapsed (NFC)."""
    text = unicodedata.normalize("NFC", text)
    text = fold_case(text)
    if fold_accents:
        text = _fold_latin_accents(text)
    text = _REPEATED_PUNCT.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


#: Order, tracking and phone numbers, postcodes: a run of Latin letters, digits and hyphens with at least four
#: digits ("#A10293", "4471-XY", "1Z999AA10123456784"; not sizes such as "260mm" or "180cm"); digits inside
#: another script's word ("订单12345") count from the first Latin character. URLs and e-mail addresses too.
_REFERENCE = re.compile(
    URL_OR_EMAIL
    + r"|#?(?<![A-Za-z0-9-])(?=(?:[A-Za-z-]*\d){4})[A-Za-z0-9][A-Za-z0-9-]{3,}(?![A-Za-z0-9-])",
    re.IGNORECASE,
)


def without_references(text: str) -> str:
    """``text`` without order numbers, URLs and e-mail addresses: they say which order, not what the shopper wants,
    and pasted after a greeting or a request for a person they pulled it towards a FAQ entry (robustness bench,
    ``order_number``). The text itself when nothing else is left ("A10293" alone)."""
    stripped = _SPACES.sub(" ", _REFERENCE.sub(" ", text)).strip()
    return stripped if any(ch.isalpha() for ch in stripped) else text


def normalise_with_accents(text: str) -> str:
    return normalise(text, fold_accents=True)


def make_normaliser(mode: str) -> Callable[[str], str] | None:
    """The normaliser for setting ``text_normalisation``: ``none``, ``case`` or ``case+accents``."""
    if mode == "none":
        return None
    if mode == "case":
        return normalise
    if mode == "case+accents":
        return normalise_with_accents
    raise ValueError(f"unknown text_normalisation {mode!r}; known: none, case, case+accents")


#: Short replies that accept an offer ("Would you like me to connect you with a person?"), 15 languages.
#: Matched whole (after normalise, punctuation dropped), so "yes but where is my order" is not a yes.
YES: frozenset[str] = frozenset(
    """
    yes|yes please|yeah|yep|yup|sure|ok|okay|please|please do|go ahead|y|ya|of course|absolutely|that would be great
    sí|si|sí por favor|si por favor|claro|vale|por favor|dale|de acuerdo|ok gracias
    oui|oui merci|oui svp|oui s'il vous plaît|d'accord|volontiers|bien sûr|ouais
    ja|ja bitte|gerne|gern|klar|jawohl|okay bitte|bitte|ja gerne
    sim|sim por favor|claro que sim|pode ser|quero|por favor sim
    sì|sì grazie|sì per favore|certo|va bene|volentieri|si grazie
    ja graag|graag|ja hoor|prima|ja alstublieft|ja alsjeblieft|goed
    是|是的|好|好的|可以|要|行|对|嗯|好啊|麻烦了
    はい|お願いします|はいお願いします|ええ|うん|お願い|はい、お願いします
    네|예|네 부탁해요|좋아요|응|네 연결해 주세요|부탁합니다
    да|да пожалуйста|давайте|хорошо|конечно|ага|ок
    نعم|أجل|ايوه|اي|نعم من فضلك|طيب|تمام|ok
    jā|jā lūdzu|labi|protams|lūdzu
    tak|tak proszę|poproszę|dobrze|jasne|ok proszę
    evet|evet lütfen|tamam|olur|lütfen|tabii
    """.replace("\n", "|").split("|")
) - {""}
_PUNCT = re.compile(r"[\s!?.,;:¡¿！？。、，]+")


def is_yes(text: str) -> bool:
    """Whether ``text`` is a plain yes (any case, punctuation ignored)."""
    return _PUNCT.sub(" ", normalise(text)).strip() in {_PUNCT.sub(" ", w).strip() for w in YES}
