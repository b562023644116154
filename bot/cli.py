"""The ``borderless`` command line: ask, eval, train, kb import/export/lint, serve, create-user, translate."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from bot.auth.cli import add_create_user_parser
from bot.knowledge import KnowledgeBaseError, files
from bot.privacy.cli import add_purge_parser
from bot.serve import add_serve_parser
from bot.settings import Settings
from bot.translation.cli import add_translate_parser

log = logging.getLogger("borderless")

JSONL_KEYS = ("text", "locale_hint", "conversation_id")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "kb", None):
        overrides["kb_path"] = Path(args.kb)
    return Settings(**overrides)


def _engine(args: argparse.Namespace):
    from bot.nlu.pipeline import build_engine

    return build_engine(_settings(args))


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.nlu.base import ConversationContext
    from bot.nlu.pipeline import InvalidMessage

    engine = _engine(args)
    if not args.jsonl:
        if not args.text:
            print("error: give a message, or --jsonl to read JSON lines from stdin", file=sys.stderr)
            return 2
        try:
            d = engine.respond(" ".join(args.text), ConversationContext(locale_hint=args.locale))
        except InvalidMessage as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"[{d.lang}] {d.action.upper()} ({d.reason}, confidence {d.confidence:.2f}, intent {d.intent})")
        if d.faq_id:
            print(f"entry: {d.faq_id}")
        print(d.reply)
        for i, s in enumerate(d.suggestions, 1):
            print(f"  {i}. {s.question}  [{s.faq_id}]")
        return 0

    conversations: dict[str, ConversationContext] = {}
    failures = 0
    out = sys.stdout
    for n, raw in enumerate(sys.stdin.buffer, 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw.decode("utf-8"))
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise InvalidMessage('expected an object with a "text" string')
            hint = item.get("locale_hint")
            conv_id = item.get("conversation_id")
            if conv_id is not None:
                ctx = conversations.setdefault(str(conv_id), ConversationContext(locale_hint=hint))
                ctx.locale_hint = hint or ctx.locale_hint
            else:
                ctx = ConversationContext(locale_hint=hint)
            result: dict[str, Any] = engine.respond(item["text"], ctx).to_json()
        except UnicodeDecodeError as exc:
            result, failures = {"error": f"line {n}: not valid UTF-8 (byte {exc.start})"}, failures + 1
        except json.JSONDecodeError as exc:
            result, failures = {"error": f"line {n}: invalid JSON: {exc.msg}"}, failures + 1
        except InvalidMessage as exc:
            result, failures = {"error": f"line {n}: {exc}"}, failures + 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if failures else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluation import evaluate, format_table, load_cases

    engine = _engine(args)
    tallies = evaluate(engine, load_cases(Path(args.file)), use_hint=args.hint)
    print(format_table(tallies))
    if args.errors:
        for case, d in tallies["all"].errors[: args.errors]:
            print(
                f"- [{case.lang}] {case.text!r}: want {case.faq_id or case.expect}, "
                f"got {d.action}/{d.faq_id} ({d.reason} {d.confidence:.3f})"
            )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import time

    from bot.nlu.pipeline import build_engine

    settings = _settings(args)
    artifact = settings.models_dir / "intent-classifier.npz"
    if artifact.exists():
        artifact.unlink()  # force a retrain rather than reusing a fingerprint match
    started = time.perf_counter()
    engine = build_engine(settings)
    print(
        f"trained on {len(list(engine.kb.variants()))} variants + intent examples in "
        f"{time.perf_counter() - started:.1f}s -> {artifact}"
    )
    return 0


def cmd_kb_export(args: argparse.Namespace) -> int:
    kb = files.load(_settings(args).kb_path)
    text = files.to_csv(kb.entries.values(), with_title=True)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, "utf-8")
    return 0


def cmd_kb_import(args: argparse.Namespace) -> int:
    kb = files.load_csv(Path(args.csv))
    target = Path(args.into) / "faq"
    for entry in kb.entries.values():
        files.save_entry(entry, target)
    print(f"imported {len(kb.entries)} entries into {target}")
    return 0


def cmd_kb_lint(args: argparse.Namespace) -> int:
    from bot.nlu.lint import EngineTools, lint
    from bot.nlu.lint_lines import with_lines

    settings = _settings(args)
    kb = files.load(settings.kb_path)
    findings = with_lines(lint(kb, EngineTools.from_settings(settings)), Path(settings.kb_path))
    if args.json:
        for f in findings:
            print(json.dumps(f.to_json(), ensure_ascii=False))
    else:
        for f in findings:
            print(f)
        print(f"{len(findings)} finding{'s' if len(findings) != 1 else ''} in {len(kb.entries)} entries",
              file=sys.stderr)
    return 1 if findings else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="borderless", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="ask the bot one question, or JSON lines on stdin with --jsonl")
    ask.add_argument("text", nargs="*")
    ask.add_argument("--jsonl", action="store_true", help='read {"text","locale_hint"?,"conversation_id"?} lines')
    ask.add_argument("--kb", help="knowledge base folder or CSV file (id,locale,question,answer)")
    ask.add_argument("--locale", help="locale hint, e.g. es-ES")
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", help="accuracy tables per language on a labelled JSON-lines file")
    ev.add_argument("file")
    ev.add_argument("--kb")
    ev.add_argument("--hint", action="store_true", help="pass each case's language as the widget's locale hint")
    ev.add_argument("--errors", type=int, default=0, help="print up to N misclassified cases")
    ev.set_defaults(func=cmd_eval)

    tr = sub.add_parser("train", help="(re)train the intent classifier; writes models/intent-classifier.npz")
    tr.add_argument("--kb")
    tr.set_defaults(func=cmd_train)

    kb = sub.add_parser("kb", help="knowledge base import/export/lint")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    exp = kb_sub.add_parser("export", help="write the knowledge base as CSV")
    exp.add_argument("--kb")
    exp.add_argument("-o", "--output", default="-")
    exp.set_defaults(func=cmd_kb_export)
    imp = kb_sub.add_parser("import", help="import a CSV into a knowledge base folder")
    imp.add_argument("csv")
    imp.add_argument("--into", default="knowledge_base")
    imp.set_defaults(func=cmd_kb_import)
    lnt = kb_sub.add_parser("lint", help="flag variants that are not questions, near-duplicates, untranslated "
                                         "answers (file:line: reason; exit 1 if any)")
    lnt.add_argument("--kb", help="knowledge base folder or CSV file (default: BORDERLESS_KB_PATH)")
    lnt.add_argument("--json", action="store_true", help="one JSON object per finding")
    lnt.set_defaults(func=cmd_kb_lint)

    add_serve_parser(sub)
    add_create_user_parser(sub)
    add_purge_parser(sub)
    add_translate_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KnowledgeBaseError as exc:
        print(f"error: knowledge base: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
