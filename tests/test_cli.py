"""The ``borderless`` command line as stores script it: ``ask --jsonl``, CSV import/export, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.knowledge import KnowledgeBaseError, files
from bot.settings import REPO_ROOT

CONTRACT = {"lang", "intent", "action", "faq_id", "confidence", "reason", "reply", "suggestions"}


def borderless(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True,
                          cwd=REPO_ROOT, timeout=600)


@pytest.fixture(scope="module")
def jsonl_run():
    lines = [
        {"text": "¿dónde está mi pedido?", "conversation_id": "a"},
        {"text": "ok gracias", "conversation_id": "a"},
        {"text": "do I pay customs when shipping to Brazil?", "locale_hint": "en-US"},
        {"text": "quiero hablar con una persona", "conversation_id": "b"},
        {"text": ""},
    ]
    payload = b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines)
    payload += b"{not json\n" + b'{"text": "\xff\xfe broken"}\n'
    return borderless("ask", "--jsonl", stdin=payload)


def test_jsonl_follows_the_contract(jsonl_run):
    out = [json.loads(line) for line in jsonl_run.stdout.decode().splitlines()]
    assert len(out) == 7
    for row in out[:4]:
        assert set(row) == CONTRACT
        assert row["action"] in ("answer", "clarify", "handoff", "decline")
        assert isinstance(row["confidence"], float) and isinstance(row["suggestions"], list)
    assert out[0]["faq_id"] == "order-tracking" and out[0]["lang"] == "es"
    assert out[1]["lang"] == "es"  # same conversation: a two-word reply keeps its language
    assert out[2]["faq_id"] == "customs-duties" and out[2]["lang"] == "en"
    assert out[3]["action"] == "handoff"


def test_jsonl_reports_bad_lines_and_keeps_going(jsonl_run):
    out = [json.loads(line) for line in jsonl_run.stdout.decode().splitlines()]
    assert out[4] == {"error": "line 5: message is empty"}
    assert out[5]["error"].startswith("line 6: invalid JSON")
    assert out[6]["error"].startswith("line 7: not valid UTF-8")
    assert jsonl_run.returncode == 1


def test_csv_round_trip(tmp_path):
    kb = files.load(REPO_ROOT / "knowledge_base")
    text = files.to_csv(kb.entries.values())
    back = files.parse_csv(text)
    assert set(back.entries) == set(kb.entries)
    for entry_id, entry in kb.entries.items():
        for locale, content in entry.locales.items():
            assert back.entries[entry_id].locales[locale].answer == content.answer
            assert back.entries[entry_id].locales[locale].questions == content.questions
    assert files.to_csv(back.entries.values()) == text


def test_ask_with_a_csv_knowledge_base(tmp_path):
    csv_file = tmp_path / "faq.csv"
    csv_file.write_text(
        "id,locale,question,answer\n"
        "pet-policy,en,can i bring my dog to the store,Dogs on a leash are welcome in all our shops.\n"
        "pet-policy,en,are pets allowed,\n"
        "pet-policy,es,puedo llevar a mi perro,Los perros con correa son bienvenidos en todas las tiendas.\n"
        "opening-hours,en,when are you open,We are open 9 to 18 on weekdays.\n"
        "opening-hours,en,opening times,\n",
        "utf-8",
    )
    run = borderless("ask", "--jsonl", "--kb", str(csv_file), stdin=b'{"text": "can I take my dog with me?"}\n')
    row = json.loads(run.stdout)
    assert row["faq_id"] == "pet-policy" and row["action"] == "answer", run.stderr.decode()[-2000:]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,locale,question\nx,en,q\n", "missing column(s) answer"),
        ("id,locale,question,answer\nok-id,en,q,a\nBAD ID,en,q,a\n", "invalid entry id"),
        ("id,locale,question,answer\nx,en,,a\n", "line 2: id, locale and question are required"),
        ("id,locale,question,answer\nx,en,q,a\nx,en,q2,other\n", "line 3: answer differs"),
    ],
)
def test_broken_csv_is_a_clear_error(content, message):
    with pytest.raises(KnowledgeBaseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        files.parse_csv(content)


def test_broken_knowledge_base_folder_is_a_clear_error(tmp_path):
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "broken.yaml").write_text("id: broken\nlocales: [unclosed\n", "utf-8")
    run = borderless("ask", "--kb", str(tmp_path), "hello")
    assert run.returncode == 2
    err = run.stderr.decode()
    assert "broken.yaml" in err and "invalid YAML" in err and "Traceback" not in err
    (tmp_path / "faq" / "broken.yaml").write_bytes(b"id: broken\nlocales:\n  en:\n    answer: \xff\n")
    with pytest.raises(KnowledgeBaseError, match="not valid UTF-8"):
        files.load(tmp_path)
