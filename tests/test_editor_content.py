"""Import parsing (every bad line named with its reason), normalising and diffs of entry content."""

from __future__ import annotations

import pytest
from editor_support import REPO  # noqa: F401  (puts the repository on sys.path)

from bot.editor import content as C
from bot.editor import formats as F
from bot.knowledge.models import LocaleContent


def _issues(fn, text: str) -> list[tuple[int | None, str]]:  # noqa: ANN001
    with pytest.raises(F.ImportFailed) as exc:
        fn(text)
    return [(i.line, i.message) for i in exc.value.issues]


def test_csv_reports_every_bad_line_with_its_number() -> None:
    text = ('id,locale,question,answer\n'
            'ok,en,hello,Hi\n'
            'ok,en,"two\nlines",\n'          # a quoted newline: the next row starts on line 5
            'ok,es,hola,\n'
            ',en,q,a\n'
            'ok,EN!,q,a\n'
            'ok,en,again,Different answer\n')
    assert _issues(F.parse_csv, text) == [
        (5, "first row of ok/es needs an answer"),
        (6, "id, locale and question are required"),
        (7, "invalid locale 'EN!' (e.g. en, es, pt-BR)"),
        (8, "answer differs from the one on line 2 for ok/en"),
    ]
    assert _issues(F.parse_csv, "") == [(None, "the file is empty")]
    assert _issues(F.parse_csv, "id,locale,question,answer\n\n") == [(None, "no rows")]


def test_csv_parses_topics_answers_and_duplicates() -> None:
    entries = F.parse_csv("\ufeffid,locale,question,answer,topic\n"
                          "a,en,Hello,Hi,greet\na,en,hello,,\na,es,hola,Hola,\n")
    assert len(entries) == 1
    e = entries[0]
    assert (e.id, e.topic, e.line) == ("a", "greet", 2)
    assert e.locales["en"].questions == ["Hello"] and e.locales["es"].answer == "Hola"


def test_json_names_the_line_of_each_bad_entry() -> None:
    text = ('{\n  "entries": [\n'
            '    {"id": "a", "locales": {"en": {"answer": "A", "questions": ["q"]}}},\n'
            '    {"id": "b",\n     "locales": {"en": {"answer": "", "questions": ["q"]}}},\n'
            '    {"id": "a", "locales": {"en": {"answer": "A", "questions": ["q"]}}},\n'
            '    "nope"\n  ]\n}\n')
    assert _issues(F.parse_json, text) == [
        (4, "b: en: the answer is empty"),
        (6, "duplicate id 'a' (first on line 3)"),
        (7, "each entry must be an object with id, topic and locales"),
    ]
    assert _issues(F.parse_json, '[\n{"id": "a"\n') [0][0] == 3
    assert _issues(F.parse_json, '{"items": []}') == [(1, 'expected a list of entries or {"entries": [...]}')]


def test_decode_reports_the_line_of_a_bad_byte() -> None:
    with pytest.raises(F.ImportFailed) as exc:
        F.decode_upload(b"id,locale,question,answer\nx,en,q,\xff\n")
    assert exc.value.issues[0].line == 2


def test_normalize_and_diff() -> None:
    locales = C.normalize_locales({"en": {"answer": " A ", "questions": ["  where   is it ", "Where is it", ""]},
                                   "fr": {"answer": "", "questions": []}})
    assert locales == {"en": LocaleContent("A", ["where is it"])}  # an empty tab is no locale
    with pytest.raises(C.ContentError):
        C.normalize_locales({"english": {"answer": "x", "questions": []}})
    old = {"en": LocaleContent("x", ["1", "2"]), "de": LocaleContent("d", ["q"])}
    new = {"en": LocaleContent("y", ["1", "3"]), "es": LocaleContent("", ["h"])}
    assert C.diff("a", old, "b", new) == ["topic: a -> b", "de: removed", "en: answer edited, +1 question, -1 question",
                                          "es: added (no answer, 1 question)"]
    assert C.publish_problems("x", new) == ["es: the answer is empty"]
    assert C.fold("Envío ÇA") == "envio ca"
