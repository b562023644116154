"""Titles: the question shoppers are shown for an entry (clarify suggestions), per locale, in the YAML format,
the CSV format, the editor API; by default the best-written variant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from editor_support import client_for, editor_settings, entry_body, token
from fastapi.testclient import TestClient

from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase, LocaleContent, display_title
from bot.nlu.base import Hit
from bot.nlu.index import EntryScore
from bot.nlu.pipeline import AnswerEngine

REPO = Path(__file__).resolve().parents[1]


def _suggestion(kb: KnowledgeBase, faq_id: str, lang: str) -> str:
    """What a clarify suggestion for ``faq_id`` shows a shopper writing in ``lang`` (the engine's own code)."""
    matched = EntryScore(faq_id, 0.5, Hit(faq_id, lang, kb.entries[faq_id].locales[lang].questions[0], 0.9))
    return AnswerEngine._question_in(kb, matched, lang)


def test_clarify_suggestions_show_the_title_with_accents_not_a_raw_variant() -> None:
    kb = files.load_folder(REPO / "knowledge_base")
    assert kb.entries["cancel-order"].locales["es"].questions[0] == "como cancelo mi pedido?"
    assert _suggestion(kb, "cancel-order", "es") == "¿Cómo cancelo mi pedido?"
    assert _suggestion(kb, "order-tracking", "es") == "¿Dónde está mi pedido?"
    # Every starter entry has a title in every one of its locales.
    missing = [(e.id, loc) for e in kb.entries.values() for loc, c in e.locales.items() if not c.title]
    assert missing == []


def test_without_a_title_the_best_written_variant_is_shown() -> None:
    content = LocaleContent("…", ["donde esta mi pedido", "¿Dónde está mi pedido?", "pedido"])
    assert content.display_title() == "¿Dónde está mi pedido?"
    assert display_title(["where is my order", "tracking"]) == "Where is my order"
    assert LocaleContent("…", ["x"], title="  Where is my order?  ").display_title() == "Where is my order?"
    kb = KnowledgeBase({"t": Entry("t", {"es": content})})
    assert _suggestion(kb, "t", "es") == "¿Dónde está mi pedido?"


def test_titles_survive_yaml_and_csv(tmp_path: Path) -> None:
    fr = LocaleContent("Oui.", ["livrez vous en suisse", "suisse ?"], title="Livrez-vous en Suisse ?")
    entry = Entry("t", {"fr": fr, "en": LocaleContent("Yes.", ["do you ship to switzerland"])})
    files.save_entry(entry, tmp_path / "faq")
    back = files.load_folder(tmp_path)
    assert back.entries["t"].locales["fr"].title == "Livrez-vous en Suisse ?"
    assert back.entries["t"].locales["en"].title == ""
    text = files.to_csv(back.entries.values(), with_title=True)
    assert text.splitlines()[0] == "id,locale,question,answer,title"
    again = files.parse_csv(text)
    assert again.entries["t"].locales["fr"].title == "Livrez-vous en Suisse ?"
    assert again.entries["t"].locales["fr"].questions == ["livrez vous en suisse", "suisse ?"]
    assert files.parse_csv("id,locale,question,answer\nt,en,q,a\n").entries["t"].locales["en"].title == ""


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(editor_settings(tmp_path))


def test_editor_saves_and_exports_titles_and_warns(client: TestClient) -> None:
    ed = token(client, "editor")
    body = entry_body("gift-cards", en=("Yes, buy them in Account > Gift cards.", ["do you sell gift cards"]),
                      es=("Sí, en Account > Gift cards.", ["venden tarjetas regalo"]))
    body["locales"]["es"]["title"] = "¿Venden tarjetas regalo?"
    r = client.post("/api/editor/entries", headers=ed, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["locales"]["es"]["title"] == "¿Venden tarjetas regalo?"
    # The lint's model-free checks run on save (the fake chat engine has no embedder): the English UI path.
    assert [(w["check"], w["locale"]) for w in r.json()["warnings"]] == [("english_ui_path", "es")]
    got = client.get("/api/editor/entries/gift-cards", headers=ed).json()
    assert got["locales"]["es"]["title"] == "¿Venden tarjetas regalo?" and "title" not in got["locales"]["en"]
    csv_text = client.get("/api/editor/export?format=csv&which=working", headers=ed).text
    assert "¿Venden tarjetas regalo?" in csv_text
    imported = client.post("/api/editor/import?format=csv", headers={**ed, "Content-Type": "text/csv"}, content=(
        b"id,locale,question,answer,title\nnew-one,de,gibt es gutscheine,Ja unter Account > Gift cards.,"
        b"Gibt es Gutscheine?\nnew-one,en,any vouchers,Yes in Account > Gift cards.,\n"))
    assert imported.status_code == 200, imported.text
    assert [(w["entry_id"], w["locale"], w["line"]) for w in imported.json()["warnings"]] == [("new-one", "de", 2)]
    assert client.get("/api/editor/entries/new-one", headers=ed).json()["locales"]["de"]["title"] == \
        "Gibt es Gutscheine?"
