"""Text a translator must not touch: order numbers, tracking codes, URLs, emails, amounts, glossary terms.

Protected spans are swapped for numbered placeholders (``[1]``, ``[2]``...) before translating and put back
afterwards. Neural models usually carry such brackets through unchanged; when one does not (a placeholder lost,
duplicated or reworded), :func:`translate_protected` translates the text between the spans piece by piece
instead, so a span survives whatever the model does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Order of the alternatives matters: the first that matches at a position wins.
_PATTERNS: tuple[str, ...] = (
    r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]",  # URLs (without trailing punctuation)
    r"www\.[^\s<>\"']+[^\s<>\"'.,;:!?)\]]",
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",  # emails
    # amounts: €12.50, 12,50 €, $5, 1.299,00 EUR, USD 20
    r"(?:[€$£¥₹]|\b(?:EUR|USD|GBP|JPY|BRL|CHF)\s?)\d[\d.,\s]*\d(?:\s?(?:[€$£¥₹]|EUR|USD|GBP|JPY|BRL|CHF)\b)?"
    r"|(?:[€$£¥₹]|\b(?:EUR|USD|GBP|JPY|BRL|CHF)\s?)\d",
    r"\b\d[\d.,]*\s?(?:[€$£¥₹]|(?:EUR|USD|GBP|JPY|BRL|CHF)\b)",
    # order numbers and tracking codes: #12345, A12345, ORD-2024-0042, 1Z999AA10123456784; any token with a digit
    r"#\s?[A-Za-z0-9][A-Za-z0-9-]*",
    r"\b(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,}\b",
)
_BASE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
_PLACEHOLDER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Masked:
    """A text with its protected spans replaced by ``[1]``, ``[2]``...; ``spans`` in order of appearance."""

    text: str
    spans: tuple[str, ...]
    #: The original text cut at the spans: ``pieces[0] spans[0] pieces[1] spans[1] ... pieces[-1]``.
    pieces: tuple[str, ...]


def compile_glossary(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the store's glossary (longest terms first, whole words, case-sensitive)."""
    words = sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words))


def mask(text: str, glossary: re.Pattern[str] | None = None) -> Masked:
    """Find the protected spans of ``text`` (glossary terms first, then the built-in patterns)."""
    found: list[tuple[int, int]] = []
    for pattern in (glossary, _BASE):
        if pattern is None:
            continue
        for m in pattern.finditer(text):
            start, end = m.span()
            if end > start and not any(start < e and s < end for s, e in found):
                found.append((start, end))
    # Never translate a literal "[n]" of the original: protect it too, so placeholders stay unambiguous.
    for m in _PLACEHOLDER.finditer(text):
        if not any(m.start() < e and s < m.end() for s, e in found):
            found.append(m.span())
    found.sort()
    spans = tuple(text[s:e] for s, e in found)
    pieces, masked, last = [], [], 0
    for i, (s, e) in enumerate(found, 1):
        pieces.append(text[last:s])
        masked.append(text[last:s] + f"[{i}]")
        last = e
    pieces.append(text[last:])
    masked.append(text[last:])
    return Masked("".join(masked), spans, tuple(pieces))


def unmask(translated: str, masked: Masked) -> str | None:
    """Put the spans back; None when the translation lost, repeated or invented a placeholder."""
    seen = [int(n) for n in _PLACEHOLDER.findall(translated)]
    if sorted(seen) != list(range(1, len(masked.spans) + 1)):
        return None
    return _PLACEHOLDER.sub(lambda m: masked.spans[int(m.group(1)) - 1], translated)


def translate_protected(text: str, translate: Callable[[str], str], glossary: re.Pattern[str] | None = None) -> str:
    """``translate`` applied to ``text`` with its protected spans passed through unchanged."""
    masked = mask(text, glossary)
    if not masked.spans:
        return translate(text)
    restored = unmask(translate(masked.text), masked)
    if restored is not None:
        return restored
    # The model mangled a placeholder: translate the pieces between the spans on their own.
    out: list[str] = []
    for i, piece in enumerate(masked.pieces):
        core = piece.strip()
        if core and any(ch.isalpha() for ch in core):
            lead = piece[: len(piece) - len(piece.lstrip())]
            trail = piece[len(piece.rstrip()):]
            out.append(lead + translate(core) + trail)
        else:
            out.append(piece)
        if i < len(masked.spans):
            out.append(masked.spans[i])
    return "".join(out)
