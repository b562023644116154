"""Editor API over a real database with the fast fake chat engine: roles, entries, versions, optimistic locking,
import/export, completeness, and the missed-question hooks of the chat."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_support import database_url_for
from editor_support import client_for, editor_settings, entry_body, if_match, token
from fastapi.testclient import TestClient

from bot.nlu.base import Decision


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """The editor over SQLite and over PostgreSQL (Debian's binaries in a temp dir; skipped without them)."""
    yield from client_for(editor_settings(tmp_path, database_url=database_url_for(request.param, tmp_path)))


@pytest.fixture()
def ed(client: TestClient) -> dict[str, str]:
    return token(client, "editor")


def _create(client: TestClient, ed: dict[str, str], entry_id: str = "gift-cards") -> dict:
    r = client.post("/api/editor/entries", headers=ed, json=entry_body(
        entry_id, en=("Yes, from 10 to 200 euros.", ["do you sell gift cards", "gift voucher"]),
        es=("Sí, de 10 a 200 euros.", ["¿venden tarjetas regalo?"])))
    assert r.status_code == 201, r.text
    return r.json()


# ---------------------------------------------------------------------------------------------- roles
EDITOR_ENDPOINTS = [
    ("GET", "/api/editor/status", None),
    ("GET", "/api/editor/entries", None),
    ("POST", "/api/editor/entries", entry_body("x-1", en=("a", ["q"]))),
    ("GET", "/api/editor/entries/return-policy", None),
    ("PUT", "/api/editor/entries/return-policy", {"topic": "t", "locales": {}, "version": 1}),
    ("DELETE", "/api/editor/entries/return-policy?version=1", None),
    ("POST", "/api/editor/entries/return-policy/publish", {"version": 1}),
    ("POST", "/api/editor/entries/return-policy/unpublish", {"version": 1}),
    ("GET", "/api/editor/entries/return-policy/versions", None),
    ("GET", "/api/editor/entries/return-policy/versions/1", None),
    ("POST", "/api/editor/entries/return-policy/restore", {"restore": 1, "version": 1}),
    ("GET", "/api/editor/deleted", None),
    ("GET", "/api/editor/completeness", None),
    ("POST", "/api/editor/import?format=csv", None),
    ("GET", "/api/editor/export", None),
    ("GET", "/api/editor/missed/groups", None),
    ("POST", "/api/editor/missed/to-entry", {"missed_ids": ["x"], "id": "y"}),
    ("POST", "/api/editor/missed/to-variants", {"missed_ids": ["x"], "entry_id": "return-policy", "version": 1}),
    ("POST", "/api/editor/missed/dismiss", {"missed_ids": ["x"]}),
    ("POST", "/api/editor/preview", {"text": "hi"}),
]


def test_editor_endpoints_refuse_shoppers_and_agents(client: TestClient) -> None:
    agent = token(client, "agent")
    before = client.get("/api/editor/export?format=json", headers=token(client, "admin")).text
    for method, path, body in EDITOR_ENDPOINTS:
        kwargs = {"json": body} if body is not None else {}
        anonymous = client.request(method, path, **kwargs)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        shopper_ish = client.request(method, path, headers={"Authorization": "Bearer not-a-token"}, **kwargs)
        assert shopper_ish.status_code == 401, (method, path)
        as_agent = client.request(method, path, headers=agent, **kwargs)
        assert as_agent.status_code == 403, (method, path, as_agent.text)
    # nothing changed, and editors and admins get through
    assert client.get("/api/editor/export?format=json", headers=token(client, "admin")).text.split('"entries"')[1] \
        == before.split('"entries"')[1]
    for role in ("editor", "admin"):
        assert client.get("/api/editor/entries", headers=token(client, role)).status_code == 200
    page = client.get("/editor")
    assert page.status_code == 200 and "editor.js" in page.text


# ---------------------------------------------------------------------------------------------- entries
def test_seeded_from_the_files_on_first_start(client: TestClient, ed: dict[str, str]) -> None:
    listing = client.get("/api/editor/entries", headers=ed).json()
    assert listing["total"] == 20
    assert {i["status"] for i in listing["items"]} == {"published"}
    history = client.get("/api/editor/entries/return-policy/versions", headers=ed).json()
    assert history[0]["action"] == "seeded" and history[0]["username"] == "seed"


def test_search_ignores_case_and_accents(client: TestClient, ed: dict[str, str]) -> None:
    _create(client, ed)
    found = client.get("/api/editor/entries", params={"q": "GIFT Voucher"}, headers=ed).json()
    assert [i["id"] for i in found["items"]] == ["gift-cards"]
    accent = client.get("/api/editor/entries", params={"q": "¿VÉNDEN tarjetas"}, headers=ed).json()
    assert [i["id"] for i in accent["items"]] == ["gift-cards"]
    drafts = client.get("/api/editor/entries", params={"status": "draft"}, headers=ed).json()
    assert [i["id"] for i in drafts["items"]] == ["gift-cards"]
    lacking = client.get("/api/editor/entries", params={"missing": "fr"}, headers=ed).json()
    assert [i["id"] for i in lacking["items"]] == ["gift-cards"]


def test_create_edit_publish_history_restore_delete(client: TestClient, ed: dict[str, str]) -> None:
    created = _create(client, ed)
    assert created["status"] == "draft" and created["version"] == 1 and created["published"] is None
    got = client.get("/api/editor/entries/gift-cards", headers=ed)
    assert got.headers["etag"] == '"1"'

    body = {"topic": "payments", "locales": {**created["locales"],
                                             "fr": {"answer": "Oui.", "questions": ["vendez-vous des cartes cadeaux"]}}}
    edited = client.put("/api/editor/entries/gift-cards", headers={**ed, **if_match(1)}, json=body).json()
    assert edited["version"] == 2 and edited["topic"] == "payments"

    published = client.post("/api/editor/entries/gift-cards/publish", headers={**ed, **if_match(2)}).json()
    assert published["status"] == "published" and published["published"]["locales"]["fr"]["answer"] == "Oui."

    body["locales"]["en"]["answer"] = "Yes: 10 to 500 euros."
    changed = client.put("/api/editor/entries/gift-cards", headers={**ed, **if_match(3)}, json=body).json()
    assert changed["status"] == "changed"  # shoppers still get the published copy
    assert changed["published"]["locales"]["en"]["answer"] == "Yes, from 10 to 200 euros."

    history = client.get("/api/editor/entries/gift-cards/versions", headers=ed).json()
    assert [(v["version"], v["action"]) for v in history] == [(4, "edited"), (3, "published"), (2, "edited"),
                                                              (1, "created")]
    assert all(v["username"] == "editor" and v["created_at"] for v in history)
    assert "en: answer edited" in history[0]["changes"]
    assert "topic: test -> payments" in history[2]["changes"]
    assert "fr: added (answer, 1 question)" in history[2]["changes"]

    restored = client.post("/api/editor/entries/gift-cards/restore", headers={**ed, **if_match(4)},
                           json={"restore": 1}).json()
    assert restored["version"] == 5 and restored["topic"] == "test" and "fr" not in restored["locales"]
    assert restored["status"] == "changed"

    deleted = client.delete("/api/editor/entries/gift-cards", headers={**ed, **if_match(5)})
    assert deleted.status_code == 200 and deleted.json()["deleted"]
    assert client.get("/api/editor/entries/gift-cards", headers=ed).status_code == 404
    assert [d["id"] for d in client.get("/api/editor/deleted", headers=ed).json()] == ["gift-cards"]
    back = client.post("/api/editor/entries/gift-cards/restore", headers={**ed, **if_match(6)},
                       json={"restore": 3}).json()
    assert back["deleted"] is False and back["status"] == "draft" and back["locales"]["fr"]["answer"] == "Oui."
    assert client.get("/api/editor/entries/gift-cards/versions", headers=ed).json()[0]["changes"][:2] == [
        "restored version 3", "undeleted"]


def test_only_published_entries_reach_the_engine(client: TestClient, ed: dict[str, str]) -> None:
    from bot.editor import published

    _create(client, ed)  # a draft
    client.post("/api/editor/entries/cancel-order/unpublish", headers={**ed, **if_match(1)}).raise_for_status()
    client.delete("/api/editor/entries/damaged-item", headers={**ed, **if_match(1)}).raise_for_status()
    with client.app.state.db.session() as session:
        kb, revision = published.published_kb(session)
        changes, now = published.changes_since(session, 1)
    assert len(kb.entries) == 18 and not {"gift-cards", "cancel-order", "damaged-item"} & set(kb.entries)
    assert changes == {"cancel-order": None, "damaged-item": None} and now == revision == 3


def test_publish_refuses_incomplete_entries(client: TestClient, ed: dict[str, str]) -> None:
    r = client.post("/api/editor/entries", headers=ed, json=entry_body(
        "half-done", en=("Done.", ["q1"]), es=("", ["¿pregunta?"])))
    assert r.status_code == 201 and r.json()["problems"] == ["es: the answer is empty"]
    refused = client.post("/api/editor/entries/half-done/publish", headers={**ed, **if_match(1)})
    assert refused.status_code == 422 and refused.json()["error"]["problems"] == ["es: the answer is empty"]
    bad = client.post("/api/editor/entries", headers=ed, json=entry_body("Bad Id", en=("a", ["q"])))
    assert bad.status_code == 422
    dup = client.post("/api/editor/entries", headers=ed, json=entry_body("return-policy", en=("a", ["q"])))
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "exists"


# ---------------------------------------------------------------------------------------------- optimistic locking
def test_concurrent_edits_report_a_conflict_and_lose_nothing(client: TestClient) -> None:
    alice, bob = token(client, "editor"), token(client, "admin")
    base = client.get("/api/editor/entries/gift-wrapping", headers=alice)
    version = int(base.headers["etag"].strip('"'))
    locales = base.json()["locales"]

    mine = json.loads(json.dumps(locales))
    mine["en"]["answer"] = "Alice's English answer."
    theirs = json.loads(json.dumps(locales))
    theirs["es"]["answer"] = "La respuesta de Bob."

    ok = client.put("/api/editor/entries/gift-wrapping", headers={**alice, **if_match(version)},
                    json={"topic": base.json()["topic"], "locales": mine})
    assert ok.status_code == 200 and ok.json()["version"] == version + 1
    stale = client.put("/api/editor/entries/gift-wrapping", headers={**bob, **if_match(version)},
                       json={"topic": base.json()["topic"], "locales": theirs})
    assert stale.status_code == 409
    detail = stale.json()["error"]
    assert detail["code"] == "version_conflict" and detail["current_version"] == version + 1
    assert detail["updated_by"] == "editor"
    # Bob reloads, re-applies his change on top of Alice's, and saves with the new version.
    latest = client.get("/api/editor/entries/gift-wrapping", headers=bob).json()
    latest["locales"]["es"]["answer"] = "La respuesta de Bob."
    merged = client.put("/api/editor/entries/gift-wrapping", headers={**bob, **if_match(latest["version"])},
                        json={"topic": latest["topic"], "locales": latest["locales"]})
    assert merged.status_code == 200
    final = merged.json()["locales"]
    assert final["en"]["answer"] == "Alice's English answer." and final["es"]["answer"] == "La respuesta de Bob."
    # No version at all is refused too (428), and so are publish/delete with a stale one.
    assert client.put("/api/editor/entries/gift-wrapping", headers=bob,
                      json={"topic": "x", "locales": final}).status_code == 428
    assert client.post("/api/editor/entries/gift-wrapping/publish", headers={**bob, **if_match(version)}
                       ).status_code == 409
    assert client.delete("/api/editor/entries/gift-wrapping", headers={**bob, **if_match(version)}).status_code == 409


def test_simultaneous_saves_of_one_version_let_exactly_one_through(client: TestClient, ed: dict[str, str]) -> None:
    base = client.get("/api/editor/entries/size-guide", headers=ed).json()
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(6)

    def save(i: int) -> None:
        locales = json.loads(json.dumps(base["locales"]))
        locales["en"]["answer"] = f"writer {i}"
        barrier.wait()
        r = client.put("/api/editor/entries/size-guide", headers={**ed, **if_match(base["version"])},
                       json={"topic": base["topic"], "locales": locales})
        results.append((r.status_code, f"writer {i}"))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(code for code, _ in results) == [200] + [409] * 5
    winner = next(text for code, text in results if code == 200)
    final = client.get("/api/editor/entries/size-guide", headers=ed).json()
    assert final["version"] == base["version"] + 1 and final["locales"]["en"]["answer"] == winner


# ---------------------------------------------------------------------------------------------- import / export
def _everything(client: TestClient, ed: dict[str, str]) -> tuple[str, list]:
    export = client.get("/api/editor/export?format=json", headers=ed).text
    versions = [client.get(f"/api/editor/entries/{i['id']}/versions", headers=ed).json()
                for i in client.get("/api/editor/entries", headers=ed).json()["items"]]
    return export, versions


@pytest.mark.parametrize(("fmt", "body", "line", "fragment"), [
    ("csv", "id,locale,question,answer\nnew-one,en,hello,Hi\nnew-one,es,hola,\nreturn-policy,en,changed?,Changed\n",
     3, "first row of new-one/es needs an answer"),
    ("csv", "id,locale,question,answer\nreturn-policy,en,still fine,New answer\nBAD ID,en,q,a\n", 3, "invalid id"),
    ("csv", "id,question,answer\nx,q,a\n", 1, "missing column(s) locale"),
    ("json", '{"entries": [\n  {"id": "return-policy", "locales": {"en": {"answer": "New", "questions": ["q"]}}},\n'
             '  {"id": "new-two", "locales": {"en": {"answer": "", "questions": ["q"]}}}\n]}', 3, "answer is empty"),
    ("json", '[\n {"id": "ok-one", "locales": {"en": {"answer": "A", "questions": ["q"]}}},\n {"id": "x",}\n]', 3,
     "invalid JSON"),
])
def test_a_malformed_import_changes_nothing(client: TestClient, ed: dict[str, str], fmt: str, body: str, line: int,
                                            fragment: str) -> None:
    before = _everything(client, ed)
    status_before = client.get("/api/editor/status", headers=ed).json()["revision"]
    for publish in ("false", "true"):
        r = client.post(f"/api/editor/import?format={fmt}&publish={publish}", headers=ed, content=body.encode())
        assert r.status_code == 422, r.text
        issues = r.json()["error"]["issues"]
        assert any(i["line"] == line and fragment in i["message"] for i in issues), issues
    assert _everything(client, ed) == before
    assert client.get("/api/editor/status", headers=ed).json()["revision"] == status_before


def test_import_applies_everything_or_nothing_and_export_round_trips(client: TestClient, ed: dict[str, str]) -> None:
    csv_text = ("id,locale,question,answer,topic\n"
                "gift-cards,en,do you sell gift cards,\"Yes, 10 to 200 euros.\",payments\n"
                "gift-cards,en,gift voucher,,payments\n"
                "gift-cards,de,verkaufen sie gutscheine,\"Ja, 10 bis 200 Euro.\",\n")
    r = client.post("/api/editor/import?format=csv&publish=true", headers=ed, content=csv_text.encode())
    assert r.status_code == 200, r.text
    assert r.json()["created"] == ["gift-cards"] and r.json()["published"] == ["gift-cards"]
    entry = client.get("/api/editor/entries/gift-cards", headers=ed).json()
    assert entry["status"] == "published" and entry["topic"] == "payments"
    assert entry["locales"]["en"]["questions"] == ["do you sell gift cards", "gift voucher"]

    exported = client.get("/api/editor/export?format=json", headers=ed)
    assert exported.headers["content-disposition"].startswith("attachment")
    again = client.post("/api/editor/import?format=json", headers=ed, content=exported.content)
    assert again.status_code == 200 and again.json()["updated"] == [] and again.json()["created"] == []
    csv_export = client.get("/api/editor/export?format=csv&which=published", headers=ed).text
    assert csv_export.splitlines()[0] == "id,locale,question,answer,topic,title"
    again_csv = client.post("/api/editor/import?format=csv", headers=ed, content=csv_export.encode())
    assert again_csv.status_code == 200 and again_csv.json()["updated"] == []


def test_completeness_lists_missing_languages(client: TestClient, ed: dict[str, str]) -> None:
    _create(client, ed)
    grid = client.get("/api/editor/completeness", headers=ed).json()
    assert grid["locales"][:3] == ["en", "es", "fr"]
    row = next(e for e in grid["entries"] if e["id"] == "gift-cards")
    assert row["cells"]["en"] == "few_questions" and row["cells"]["es"] == "few_questions"
    assert row["cells"]["fr"] == "missing" and "fr" in row["missing"] and "en" not in row["missing"]
    full = next(e for e in grid["entries"] if e["id"] == "return-policy")
    assert set(full["cells"].values()) == {"ok"} and grid["complete"]["en"] == grid["total"]


# ---------------------------------------------------------------------------------------------- missed questions
def _decision(action: str, reason: str, lang: str = "en", faq_id: str | None = None) -> Decision:
    return Decision(lang=lang, intent="faq_question", action=action, faq_id=faq_id, confidence=0.3, reason=reason,
                    reply="...")


def test_chat_records_missed_questions_and_agents_answers_become_drafts(client: TestClient,
                                                                         ed: dict[str, str]) -> None:
    chat = client.app.state.chat.chat
    handoff = client.app.state.chat.handoff

    def ask(text: str, decision: Decision, locale: str = "en-US") -> str:
        opened = chat.open("demo", None, None, locale)
        stored = chat.add_shopper_message(opened.conversation_id, "c1", text)
        chat.record_decision(opened.conversation_id, stored.message_id, decision, None)
        return opened.conversation_id

    ask("can I pay with dogecoin", _decision("handoff", "low_confidence"))
    ask("¿puedo pagar con dogecoin?", _decision("clarify", "close_candidates", "es"), "es-ES")
    ask("where is my parcel", _decision("answer", "faq_match", faq_id="order-tracking"))  # answered: not missed
    ask("I want a human", _decision("handoff", "human_request"))  # not a knowledge gap
    rated = ask("how long is shipping to Chile", _decision("answer", "faq_match", faq_id="shipping-times"))
    chat.set_rating(rated, 5)
    chat.set_rating(rated, 1)
    chat.set_rating(rated, 2)  # recorded once

    # An agent answers a low-confidence handoff: that answer is offered as the draft answer.
    conv = ask("paga con dogecoin?", _decision("handoff", "low_confidence", "it"), "it-IT")
    from bot.auth.service import Principal

    ana = Principal(2, "ana", "Ana", "admin", ())
    assert handoff.claim(conv, ana)[0]
    client.app.state.chat.desk.agent_reply(conv, ana, "No, accettiamo solo carte e PayPal.")

    groups = client.get("/api/editor/missed/groups", headers=ed).json()
    texts = sorted(e["text"] for g in groups for e in g["examples"])
    assert texts == sorted(["can I pay with dogecoin", "¿puedo pagar con dogecoin?", "how long is shipping to Chile",
                            "paga con dogecoin?"])
    reasons = {e["text"]: e["reason"] for g in groups for e in g["examples"]}
    assert reasons["how long is shipping to Chile"] == "bad_rating"
    assert reasons["¿puedo pagar con dogecoin?"] == "clarify"
    it_group = next(g for g in groups if "it" in g["languages"])
    assert it_group["agent_answers"][0]["text"] == "No, accettiamo solo carte e PayPal."

    ids = [i for g in groups for i in g["missed_ids"] if g["examples"][0]["text"] != "how long is shipping to Chile"]
    made = client.post("/api/editor/missed/to-entry", headers=ed,
                       json={"missed_ids": ids, "id": "crypto-payments", "topic": "payments",
                             "answers": {"en": "No, we do not accept cryptocurrencies."}})
    assert made.status_code == 201, made.text
    entry = made.json()
    assert entry["status"] == "draft"
    assert entry["locales"]["en"] == {"answer": "No, we do not accept cryptocurrencies.",
                                      "questions": ["can I pay with dogecoin"]}
    assert entry["locales"]["it"]["answer"] == "No, accettiamo solo carte e PayPal."  # the agent's answer
    assert entry["locales"]["es"] == {"answer": "", "questions": ["¿puedo pagar con dogecoin?"]}
    assert client.get("/api/editor/entries/crypto-payments/versions", headers=ed).json()[0]["action"] == \
        "created_from_missed"

    left = client.get("/api/editor/missed/groups", headers=ed).json()
    assert [g["examples"][0]["text"] for g in left] == ["how long is shipping to Chile"]
    target = client.get("/api/editor/entries/shipping-times", headers=ed).json()
    added = client.post("/api/editor/missed/to-variants", headers={**ed, **if_match(target["version"])},
                        json={"missed_ids": left[0]["missed_ids"], "entry_id": "shipping-times"})
    assert added.status_code == 200
    assert "how long is shipping to Chile" in added.json()["locales"]["en"]["questions"]
    assert added.json()["status"] == "changed"
    assert client.get("/api/editor/missed/groups", headers=ed).json() == []
    resolved = client.get("/api/editor/missed/groups?status=resolved", headers=ed).json()
    assert sum(g["count"] for g in resolved) == 4
