"""Helpers for the translation tests: tiny Argos packages for any pair, isolated Argos child processes, and a
LibreTranslate-API server backed by Argos (tests/libretranslate_server.py).

Argos reads its folders from the environment when imported, so everything that imports it runs in a child
process whose HOME, XDG_* and ARGOS_PACKAGES_DIR point into a temporary folder (as tests/test_translate.py does).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from argos_tiny import build_tiny_argos_package  # noqa: E402
from chat_support import free_port  # noqa: E402

NAMES = {"en": "English", "de": "German", "fr": "French", "pt": "Portuguese", "es": "Spanish"}
_BUILD_DIR: Path | None = None
_BASE: Path | None = None


def retarget(archive: Path, source: str, target: str, out_dir: Path) -> Path:
    """A copy of a tiny package claiming to translate ``source -> target`` (same copy model and tokenizer)."""
    name = f"translate-{source}_{target}-1_0"
    out = out_dir / f"{name}.argosmodel"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            rel = item.filename.split("/", 1)[1]
            if rel == "metadata.json":
                meta = json.loads(data)
                meta.update(from_code=source, to_code=target, from_name=NAMES.get(source, source),
                            to_name=NAMES.get(target, target))
                data = json.dumps(meta, indent=2).encode("utf-8")
            dst.writestr(f"{name}/{rel}", data)
    return out


def tiny_packages(pairs: list[tuple[str, str]]) -> list[Path]:
    """Tiny copy-model packages for ``pairs`` (the model is built once per test process, ~5 s)."""
    global _BUILD_DIR, _BASE
    if _BASE is None:
        _BUILD_DIR = Path(tempfile.mkdtemp(prefix="borderless-argos-"))
        import atexit

        atexit.register(shutil.rmtree, _BUILD_DIR, True)
        _BASE = build_tiny_argos_package(_BUILD_DIR, "en", "xx")
    assert _BUILD_DIR is not None
    return [retarget(_BASE, s, t, _BUILD_DIR) for s, t in pairs]


def isolated_env(base: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process whose Argos Translate lives entirely under ``base``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARGOS_", "XDG_", "LIBRETRANSLATE_", "BORDERLESS_"))}
    env.update(
        HOME=str(base / "home"),
        XDG_DATA_HOME=str(base / "data"),
        XDG_CONFIG_HOME=str(base / "config"),
        XDG_CACHE_HOME=str(base / "cache"),
        ARGOS_PACKAGES_DIR=str(base / "packages"),
        ARGOS_DEVICE_TYPE="cpu",
        ARGOS_CHUNK_TYPE="MINISBD",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]),
        **extra,
    )
    return env


def run_isolated(code: str, base: Path, args: dict, timeout: float = 180, **env: str) -> dict:
    """Run ``code`` (reading ``json.loads(sys.argv[1])``) in an isolated child; returns its last stdout line."""
    base.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], env=isolated_env(base, **env),
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, f"child failed ({proc.returncode})\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"child printed nothing\nstderr:\n{proc.stderr}"
    return json.loads(lines[-1])


#: A real LibreTranslate (its own virtualenv: it cannot share ours, see docs/translation.md), e.g.
#: ``python -m venv /opt/lt && /opt/lt/bin/pip install libretranslate`` then
#: ``BORDERLESS_TEST_LIBRETRANSLATE=/opt/lt/bin/libretranslate``.
REAL_LIBRETRANSLATE = os.environ.get("BORDERLESS_TEST_LIBRETRANSLATE")


@contextlib.contextmanager
def libretranslate_server(base: Path, packages: list[Path], api_key: str | None = None,
                          real: str | None = None) -> Iterator[str]:
    """A LibreTranslate API on a free port with ``packages`` installed; yields its base URL.

    ``real``: the path of a ``libretranslate`` executable (run offline with ``--load-only``); else
    tests/libretranslate_server.py."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = isolated_env(base)
    if real:
        python = str(Path(real).parent / "python")
        install = "import sys, argostranslate.package as p\nfor f in sys.argv[1:]: p.install_from_path(f)"
        subprocess.run([python, "-c", install, *map(str, packages)], env=env, check=True, timeout=300,
                       capture_output=True)
        codes = sorted({c for pkg in packages for c in pkg.name.split("-")[1].split("_")})
        cmd = [real, "--host", "127.0.0.1", "--port", str(port), "--load-only", ",".join(codes), "--disable-web-ui"]
    else:
        cmd = [sys.executable, str(HERE / "libretranslate_server.py"), "--port", str(port),
               *(["--api-key", api_key] if api_key else []), *map(str, packages)]
    log = (base / "server.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=base)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(base / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/languages", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
