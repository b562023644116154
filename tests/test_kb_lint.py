"""borderless kb lint over the real starter knowledge base, embedder, language detector and intent classifier:
the starter base is clean, and planted problems are flagged with their file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase, LocaleContent
from bot.nlu.lint import EmptyAnswer, EnglishUiPath, LintContext, lint, warnings_for
from bot.nlu.lint_lines import with_lines

REPO = Path(__file__).resolve().parents[1]
PLANTED_PERSON = "Ich möchte bitte mit einem Mitarbeiter sprechen"
PLANTED_COPY = "how much is shipping?"  # a shipping-costs variant, copied into shipping-times


def _line_of(file: Path, text: str) -> int:
    return next(n for n, line in enumerate(file.read_text("utf-8").splitlines(), 1) if text in line)


def _plant(kb_dir: Path) -> None:
    """Add a request for a person to contact-hours/de and a near-copy of another entry's variant."""
    hours = kb_dir / "faq" / "contact-hours.yaml"
    text = hours.read_text("utf-8")
    anchor = "      - wann seid ihr erreichbar?\n"
    assert anchor in text
    hours.write_text(text.replace(anchor, anchor + f"      - {PLANTED_PERSON}\n"), "utf-8")
    times = kb_dir / "faq" / "shipping-times.yaml"
    text = times.read_text("utf-8")
    anchor = "      - how long does shipping take?\n"
    assert anchor in text
    times.write_text(text.replace(anchor, anchor + f"      - {PLANTED_COPY}\n"), "utf-8")


def test_starter_base_is_clean_and_planted_problems_are_flagged_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One lint run over the whole starter base plus two planted variants: exactly those two are found, so the
    # starter base itself stays lint-clean (a new bad variant in knowledge_base/ fails this test).
    kb_dir = tmp_path / "kb"
    shutil.copytree(REPO / "knowledge_base", kb_dir)
    _plant(kb_dir)
    assert "how much is shipping?" in (kb_dir / "faq" / "shipping-costs.yaml").read_text("utf-8")

    code = main(["kb", "lint", "--kb", str(kb_dir), "--json"])
    findings = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert code == 1
    by_check = {f["check"]: f for f in findings}
    assert sorted(by_check) == ["near_duplicate", "not_a_question"], findings
    person = by_check["not_a_question"]
    hours = kb_dir / "faq" / "contact-hours.yaml"
    assert (person["entry_id"], person["locale"], person["question"]) == ("contact-hours", "de", PLANTED_PERSON)
    assert person["file"] == str(hours) and person["line"] == _line_of(hours, PLANTED_PERSON)
    assert "request for a person" in person["message"]
    dup = by_check["near_duplicate"]
    times = kb_dir / "faq" / "shipping-times.yaml"
    assert (dup["entry_id"], dup["question"]) == ("shipping-times", PLANTED_COPY)
    assert dup["line"] == _line_of(times, PLANTED_COPY) and "shipping-costs" in dup["message"]


def test_english_ui_path_in_another_language_is_flagged_on_its_answer_line(tmp_path: Path) -> None:
    kb = files.load_folder(REPO / "knowledge_base")
    assert lint(kb, None, checks=[EnglishUiPath(), EmptyAnswer()]) == []  # no model needed for these
    es = kb.entries["cancel-order"].locales["es"]
    es.answer = es.answer.replace("Cuenta > Pedidos > Cancelar", "Account > Orders > Cancel")
    kb.entries["cancel-order"].locales["fr"].answer = " "
    found = lint(kb, None, checks=[EnglishUiPath(), EmptyAnswer()])
    assert sorted((f.check, f.entry_id, f.locale) for f in found) == [
        ("empty_answer", "cancel-order", "fr"), ("english_ui_path", "cancel-order", "es")]
    assert "Account > Orders > Cancel" in next(f.message for f in found if f.check == "english_ui_path")

    # In a CSV, the finding points at the first row of that entry and locale.
    csv_file = tmp_path / "faq.csv"
    csv_file.write_text(files.to_csv(kb.entries[e] for e in ["cancel-order"]), "utf-8")
    located = with_lines([f for f in found if f.locale == "es"], csv_file)
    row = next(n for n, line in enumerate(csv_file.read_text("utf-8").splitlines(), 1) if ",es," in line)
    assert located[0].line == row and located[0].file == str(csv_file)


def test_editor_warnings_without_an_engine_run_the_model_free_checks() -> None:
    entry = Entry("gift-cards", {
        "en": LocaleContent("Buy them in Account > Gift cards.", ["do you sell gift cards"]),
        "de": LocaleContent("Kaufe sie unter Account > Gift cards.", ["verkauft ihr gutscheine"]),
    })
    warnings = warnings_for([entry], engine=None)
    assert [(w["check"], w["locale"]) for w in warnings] == [("english_ui_path", "de")]
    assert LintContext(KnowledgeBase()).reported() == []
