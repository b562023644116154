"""Helpers for the editor tests (tests/test_editor_*.py): apps over a temp database, logins, a shared real engine.

Not a conftest, so it cannot clash with fixtures other parts of the project define.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from chat_support import make_settings  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.auth.service import DEMO_PASSWORD  # noqa: E402
from bot.settings import Settings  # noqa: E402

ROLES_USERS = {"admin": "admin", "editor": "editor", "agent": "ana"}


def private_models_dir(target: Path) -> Path:
    """A copy of the repository's models/ (embedding cache, classifier), so tests never overwrite the shared one."""
    src = REPO / "models"
    target.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        for item in src.rglob("*"):
            if item.is_file() and not item.name.endswith(".tmp.npz"):
                dest = target / item.relative_to(src)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(item, dest)
    return target


def editor_settings(data_dir: Path, models_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings for an editor test app: demo accounts (admin, ana, editor...), a fake chat engine by default."""
    values: dict[str, Any] = {"demo": True}
    if models_dir is not None:
        values["models_dir"] = models_dir
    values.update(overrides)
    return make_settings(data_dir, **values)


def client_for(settings: Settings, engine: Any = None) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine, preload_engine=False)
    with TestClient(app) as client:
        yield client


def token(client: TestClient, role: str) -> dict[str, str]:
    """Authorization header of the demo account with ``role`` (admin, editor or agent)."""
    r = client.post("/api/auth/login", json={"username": ROLES_USERS[role], "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def if_match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


def entry_body(entry_id: str, **locales: tuple[str, list[str]]) -> dict[str, Any]:
    return {"id": entry_id, "topic": "test",
            "locales": {loc: {"answer": a, "questions": qs} for loc, (a, qs) in locales.items()}}
