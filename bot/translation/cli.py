"""``borderless translate list | install FILE.argosmodel | install en es fr``.

``list`` prints every pair the configured translator (``BORDERLESS_TRANSLATOR``) covers, with its backend
(pairs through English marked ``via en``). ``install`` takes ``.argosmodel`` files (offline) or language codes:
for codes it fetches the Argos package index and installs ``translate-<a>_<b>`` for every pair of the codes
that the index has, which needs internet; offline it says so and how to install files instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INDEX_TIMEOUT_SECONDS = 20


class InstallError(RuntimeError):
    """Installing failed for a reason the user can act on."""


def add_translate_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("translate", help="list and install machine translation pairs")
    sub = parser.add_subparsers(dest="translate_command", required=True)
    ls = sub.add_parser("list", help="print each available pair with its backend")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=cmd_list)
    inst = sub.add_parser(
        "install",
        help="install .argosmodel files, or Argos packages between language codes (needs internet)",
        description="borderless translate install translate-en_es-1_0.argosmodel | borderless translate install "
        "en es fr (installs en<->es, en<->fr, es<->fr where the Argos index has them)",
    )
    inst.add_argument("items", nargs="+", metavar="FILE_OR_CODE")
    inst.set_defaults(func=cmd_install)
    return parser


def cmd_list(args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from bot.translation.service import TranslationService

    settings = Settings()
    try:
        pairs = TranslationService.from_settings(settings).pairs()
    except ValueError as exc:  # a misconfigured translator (unknown name, libretranslate without a URL)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        print(json.dumps({"translator": settings.translator, "pairs": [p.to_json() for p in pairs]}))
        return 0
    if not pairs:
        print(f"no translation pairs (translator: {settings.translator}); see docs/translation.md")
        return 0
    print(f"{'from':<6}{'to':<6}{'backend':<24}via")
    for p in pairs:
        print(f"{p.source:<6}{p.target:<6}{p.engine:<24}{p.via or '-'}")
    return 0


def _package_pair(path: Path) -> tuple[str, str]:
    """Check that ``path`` is an Argos translate package; returns its (from, to) codes."""
    if not path.is_file():
        raise InstallError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as zf:
            meta_names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/metadata.json")]
            if len(meta_names) != 1:
                raise InstallError(f"{path}: not an Argos package (expected one folder with metadata.json)")
            meta = json.loads(zf.read(meta_names[0]).decode("utf-8"))
    except zipfile.BadZipFile:
        raise InstallError(f"{path}: not an Argos package (not a zip file)") from None
    except (ValueError, UnicodeDecodeError):
        raise InstallError(f"{path}: metadata.json is not valid JSON") from None
    if meta.get("type", "translate") != "translate" or not meta.get("from_code") or not meta.get("to_code"):
        raise InstallError(f"{path}: metadata.json lacks from_code/to_code of a translate package")
    return meta["from_code"], meta["to_code"]


def install_file(path: Path) -> tuple[str, str]:
    import argostranslate.package

    pair = _package_pair(path)
    argostranslate.package.install_from_path(str(path))
    return pair


def fetch_index() -> list[dict[str, Any]]:
    """Download the Argos package index (``ARGOS_PACKAGE_INDEX``); :class:`InstallError` when unreachable."""
    import argostranslate.settings as argos_settings

    url = argos_settings.remote_package_index
    try:
        with urllib.request.urlopen(url, timeout=INDEX_TIMEOUT_SECONDS) as response:  # noqa: S310 (https index)
            data = response.read()
        index = json.loads(data)
    except (OSError, ValueError) as exc:
        raise InstallError(
            f"cannot download the Argos package index from {url} ({exc}). This machine looks offline: "
            "installing by language code needs internet. Offline, copy .argosmodel files here and run "
            "`borderless translate install FILE.argosmodel` (see docs/translation.md)."
        ) from None
    Path(argos_settings.local_package_index).parent.mkdir(parents=True, exist_ok=True)
    Path(argos_settings.local_package_index).write_bytes(data)
    return index


def install_codes(codes: list[str]) -> list[tuple[str, str]]:
    import argostranslate.package

    fetch_index()
    wanted = {(a, b) for a in codes for b in codes if a != b}
    available = {(p.from_code, p.to_code): p for p in argostranslate.package.get_available_packages()}
    missing = sorted(wanted - set(available))
    if missing:
        log.info("the Argos index has no direct package for %s (they pivot through English when possible)",
                 ", ".join(f"{a}->{b}" for a, b in missing))
    installed = []
    for pair in sorted(wanted & set(available)):
        package = available[pair]
        print(f"downloading translate-{pair[0]}_{pair[1]} ...", flush=True)
        try:
            path = package.download()
        except OSError as exc:
            raise InstallError(f"downloading translate-{pair[0]}_{pair[1]} failed: {exc}") from None
        argostranslate.package.install_from_path(path)
        installed.append(pair)
    if not installed:
        raise InstallError(f"the Argos index has no package between {', '.join(codes)}")
    return installed


def cmd_install(args: argparse.Namespace) -> int:
    files = [item for item in args.items if item.endswith(".argosmodel") or "/" in item or Path(item).is_file()]
    codes = [item for item in args.items if item not in files]
    bad = [c for c in codes if not (2 <= len(c) <= 3 and c.isalpha() and c.islower())]
    if bad:
        print(f"error: {', '.join(bad)}: give .argosmodel files or language codes such as en es fr", file=sys.stderr)
        return 2
    try:
        installed = [install_file(Path(f)) for f in files]
        if codes:
            installed += install_codes(codes)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for source, target in installed:
        print(f"installed {source} -> {target} (argos)")
    print("restart Borderless (or POST /api/translation/refresh as an admin) to use them")
    return 0
