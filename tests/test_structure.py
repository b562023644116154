"""Size and duplication limits that keep the code base easy to read (issue 10's "done when").

Modules under ``bot/`` stay at most 450 lines (migrations aside: they are generated history), and no block of six
or more lines is repeated among the page files of ``bot/web/static/`` (shared code belongs in ``common.js`` and
``base.css``). Both checks read the tree, so they fail the moment a change breaks the rule.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"
STATIC = BOT / "web" / "static"
MAX_MODULE_LINES = 450
BLOCK = 6


def oversized_modules(root: Path = BOT, limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """``path -> lines`` for every Python module over ``limit`` lines, migrations aside."""
    out: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        if "migrations" in rel.parts:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            out[str(rel)] = lines
    return out


def _significant(line: str) -> str | None:
    """A line as it counts for duplication: stripped; blank lines and lone brackets do not count."""
    text = line.strip()
    return text if text and text not in {"{", "}", "});", "};", ")", "]", "},", "<div>", "</div>"} else None


def repeated_blocks(files: list[Path], size: int = BLOCK) -> dict[tuple[str, ...], set[str]]:
    """Blocks of ``size`` consecutive significant lines found in more than one place (same file or another)."""
    seen: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path in files:
        lines = [s for s in map(_significant, path.read_text(encoding="utf-8").splitlines()) if s is not None]
        for i in range(len(lines) - size + 1):
            seen[tuple(lines[i : i + size])].append(f"{path.name}:{i + 1}")
    return {block: set(where) for block, where in seen.items() if len(where) > 1}


def _static_files() -> list[Path]:
    return sorted(p for p in STATIC.iterdir() if p.is_file() and p.suffix in {".js", ".css", ".html"})


def test_no_module_is_over_the_line_limit() -> None:
    assert oversized_modules() == {}, f"split these modules along their seams (max {MAX_MODULE_LINES} lines)"


def test_no_block_is_repeated_among_the_pages() -> None:
    repeated = repeated_blocks(_static_files())
    assert not repeated, "move repeated blocks into common.js / base.css: " + "; ".join(
        f"{sorted(where)}: {block[0]!r}..." for block, where in list(repeated.items())[:5])


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    # A check that cannot fail is a defect: feed both a tree that breaks the rule.
    pkg = tmp_path / "bot"
    (pkg / "db" / "migrations").mkdir(parents=True)
    (pkg / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    (pkg / "db" / "migrations" / "huge.py").write_text("x = 1\n" * 1000, encoding="utf-8")
    (pkg / "small.py").write_text("x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")
    assert oversized_modules(pkg) == {"bot/big.py": MAX_MODULE_LINES + 1}
    block = "".join(f"const v{i} = {i};\n" for i in range(BLOCK))
    (tmp_path / "a.js").write_text("let a;\n" + block, encoding="utf-8")
    (tmp_path / "b.js").write_text(block + "let b;\n", encoding="utf-8")
    (tmp_path / "c.js").write_text(block[: -len("const v5 = 5;\n")], encoding="utf-8")
    found = repeated_blocks([tmp_path / "a.js", tmp_path / "b.js", tmp_path / "c.js"])
    assert list(found.values()) == [{"a.js:2", "b.js:1"}]


def test_the_pages_read_locales_and_directions_from_one_place(tmp_path: Path) -> None:
    from chat_support import make_app
    from fastapi.testclient import TestClient

    from bot.i18n import RTL_LANGUAGES, text_direction
    from bot.nlu.base import SUPPORTED_LOCALES

    # No page keeps its own copy of the lists (a copy is how editor.js and the widget drifted apart before).
    for path in [*_static_files(), ROOT / "widget" / "borderless.js"]:
        text = path.read_text(encoding="utf-8")
        assert '"ar", "he"' not in text and '"en", "es", "fr", "de"' not in text, path.name
    with TestClient(make_app(tmp_path)) as client:
        lists = client.get("/api/i18n").json()
    assert lists["locales"] == list(SUPPORTED_LOCALES) and lists["rtl"] == list(RTL_LANGUAGES)
    assert text_direction("ar-EG") == "rtl" and text_direction("en") == "ltr" and text_direction(None) == "ltr"
