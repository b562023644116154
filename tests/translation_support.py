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


@contextlib.contextmanager
def libretranslate_server(base: Path, packages: list[Path], api_key: str | None = None) -> Iterator[str]:
    """tests/libretranslate_server.py on a free port with ``packages`` installed; yields its base URL."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [sys.executable, str(HERE / "libretranslate_server.py"), "--port", str(port),
           *(["--api-key", api_key] if api_key else []), *map(str, packages)]
    log = (base / "server.log").open("w")
    proc = subprocess.Popen(cmd, env=isolated_env(base), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(base / 'server.log').read_text()}")
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
