"""Redaction before anything is stored: card numbers and IBANs (and store-defined patterns) masked to their last
four characters, in every message, note and log line.

- Card numbers: 13-19 digits, optionally grouped with single spaces or dashes, passing the Luhn check
  (``stdnum.luhn``). A 13-19 digit number that fails Luhn (most order, phone and tracking numbers) is kept.
- IBANs: two letters, two check digits and 11-30 letters or digits, optionally grouped, with a valid
  ISO 13616 checksum (``stdnum.iban``).
- Store-defined regexes (``BORDERLESS_REDACT_PATTERNS``): every match is masked the same way.
- An allow-list (``BORDERLESS_REDACT_ALLOW``; by default order numbers written as "order 123...", "#123...")
  wins: a candidate overlapping an allowed span is left alone, so a Luhn-valid order number stays readable.

Masking keeps separators and the last four letters or digits: ``4111 1111 1111 1111`` -> ``**** **** **** 1111``.
What it does not cover (names, addresses, phone numbers, card numbers split over messages...) is listed in
docs/privacy.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from stdnum import iban, luhn

log = logging.getLogger(__name__)

CARD_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,30}")
MIN_IBAN = 15
DEFAULT_ALLOW = (
    r"(?i)\b(?:order|ord|pedido|commande|bestellung|ordine|encomenda|zamówienie|订单)\s*"
    r"(?:no\.?|nr\.?|number|n[º°o]\.?|#)?\s*[:#]?\s*[A-Z0-9][A-Z0-9-]{3,}",
    r"#\d{4,}",
)


def mask(value: str, keep: int = 4) -> str:
    """Replace every letter or digit but the last ``keep`` with ``*``; separators stay."""
    total = sum(ch.isalnum() for ch in value)
    seen = 0
    out = []
    for ch in value:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _card_spans(text: str) -> Iterable[tuple[int, int]]:
    for m in CARD_CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            yield m.span()


def _iban_spans(text: str) -> Iterable[tuple[int, int]]:
    for m in IBAN_CANDIDATE.finditer(text):
        found = m.group()
        # The candidate may run into the next word ("... 0130 00 THANKS"): the longest valid prefix wins.
        for end in range(len(found), MIN_IBAN - 1, -1):
            candidate = found[:end]
            if candidate[-1] in " -":
                continue
            if len(re.sub(r"[ -]", "", candidate)) >= MIN_IBAN and iban.is_valid(candidate.upper()):
                yield m.start(), m.start() + end
                break


@dataclass
class Redactor:
    """Masks what must never be stored; ``patterns`` and ``allow`` are the store's extra regexes."""

    patterns: Sequence[str] = ()
    allow: Sequence[str] = DEFAULT_ALLOW
    _patterns: list[re.Pattern[str]] = field(init=False, repr=False)
    _allow: list[re.Pattern[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._patterns = [re.compile(p) for p in self.patterns]
        self._allow = [re.compile(p) for p in self.allow]

    @classmethod
    def from_settings(cls, patterns: Sequence[str], allow: Sequence[str] | None) -> Redactor:
        """Settings' regexes; a bad one fails start-up with a clear message rather than redacting nothing."""
        for p in [*patterns, *(allow or ())]:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"redaction regex {p!r} does not compile: {exc}") from None
        return cls(tuple(patterns), tuple(DEFAULT_ALLOW if allow is None else allow))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The spans to mask, sorted and without overlaps, minus those touching an allowed span."""
        allowed = [m.span() for rx in self._allow for m in rx.finditer(text)]
        found = list(_card_spans(text)) + list(_iban_spans(text))
        found += [m.span() for rx in self._patterns for m in rx.finditer(text) if m.end() > m.start()]
        spans: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if any(a < end and start < b for a, b in allowed):
                continue
            if spans and start < spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        return spans

    def redact(self, text: str) -> str:
        """``text`` with every sensitive span masked to its last four characters."""
        if not text or not any(ch.isdigit() for ch in text) and not self._patterns:
            return text
        spans = self.spans(text)
        if not spans:
            return text
        out, last = [], 0
        for start, end in spans:
            out.append(text[last:start])
            out.append(mask(text[start:end]))
            last = end
        out.append(text[last:])
        return "".join(out)


#: Email addresses in log lines (access logs carry ``/api/privacy/export?email=...``): the local part is masked.
LOG_EMAIL = re.compile(r"([A-Za-z0-9._%+-]{1,64})(@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def redact_log_line(redactor: Redactor, line: str) -> str:
    """What a log line may keep: the redactor's masks, and emails reduced to ``***@domain``."""
    return LOG_EMAIL.sub(lambda m: "***" + m.group(2) + m.group(3), redactor.redact(line))


_log_redactor: Redactor | None = None
_factory_installed = False


def install_log_redaction(redactor: Redactor) -> None:
    """Mask every log record of the process (any logger, any handler) with ``redactor`` (the latest wins),
    and the local part of email addresses."""
    global _log_redactor, _factory_installed
    _log_redactor = redactor
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor_now = _log_redactor
        if redactor_now is not None:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: leave it to the handler to report
                return record
            cleaned = redact_log_line(redactor_now, message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
