"""Accounts and access: argon2 hashes, login tokens, roles; agent endpoints refuse shoppers and anonymous callers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from chat_support import PASSWORD, REPO, FakeEngine, add_user, make_app
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.auth.deps import require_role
from bot.auth.models import AuthToken, User
from bot.auth.service import Principal, bootstrap, hash_password, verify_password
from bot.db.session import Database

AGENT_ENDPOINTS = [
    ("GET", "/api/queue"),
    ("GET", "/api/conversations"),
    ("GET", "/api/conversations/{cid}"),
    ("POST", "/api/conversations/{cid}/claim"),
    ("POST", "/api/conversations/{cid}/messages"),
    ("POST", "/api/conversations/{cid}/notes"),
    ("POST", "/api/conversations/{cid}/resolve"),
    ("POST", "/api/conversations/{cid}/handback"),
    ("POST", "/api/conversations/{cid}/release"),
]


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    app = make_app(tmp_path)
    add_user(app, "ana", "agent", "es,en", name="Ana")
    add_user(app, "boss", "admin")
    add_user(app, "ed", "editor")
    with TestClient(app) as c:
        yield c


def login(c: TestClient, username: str, password: str = PASSWORD) -> str:
    r = c.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def shopper_conversation(c: TestClient) -> tuple[str, str]:
    with c.websocket_connect("/ws/shopper") as ws:
        ws.send_json({"type": "hello", "store_key": "demo", "locale": "en"})
        w = ws.receive_json()
        ws.send_json({"type": "message", "client_id": "c1", "text": "I want a human"})
        ws.receive_json()
    return w["conversation_id"], w["token"]


def test_passwords_are_argon2_hashed(client: TestClient) -> None:
    with client.app.state.db.session() as session:
        user = session.scalar(select(User).where(User.username == "ana"))
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert verify_password(hash_password("s3cret-pass"), "s3cret-pass")
    assert not verify_password(hash_password("s3cret-pass"), "wrong")
    assert not verify_password("not a hash", "x")


def test_login_and_me_and_logout(client: TestClient) -> None:
    r = client.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})
    body = r.json()
    assert r.status_code == 200 and body["role"] == "agent" and body["name"] == "Ana"
    assert body["languages"] == ["es", "en"]
    h = {"Authorization": f"Bearer {body['token']}"}
    with client.app.state.db.session() as session:  # only a digest of the token is stored
        assert session.scalar(select(AuthToken.token_hash)) != body["token"]
    assert client.get("/api/auth/me", headers=h).json()["username"] == "ana"
    assert client.post("/api/auth/logout", headers=h).status_code == 204
    assert client.get("/api/auth/me", headers=h).status_code == 401


def test_wrong_credentials(client: TestClient) -> None:
    assert client.post("/api/auth/login", json={"username": "ana", "password": "nope-nope"}).status_code == 401
    assert client.post("/api/auth/login", json={"username": "ghost", "password": PASSWORD}).status_code == 401
    assert client.post("/api/auth/login", json={"username": "ana"}).status_code == 422


def test_login_throttled_after_repeated_failures(client: TestClient) -> None:
    for _ in range(10):
        assert client.post("/api/auth/login", json={"username": "ana", "password": "bad-guess"}).status_code == 401
    assert client.post("/api/auth/login", json={"username": "ana", "password": PASSWORD}).status_code == 429


def test_agent_endpoints_refuse_anonymous_shopper_and_editor(client: TestClient) -> None:
    cid, shopper_token = shopper_conversation(client)
    editor = login(client, "ed")
    callers = {
        "anonymous": ({}, 401),
        "garbage token": ({"Authorization": "Bearer not-a-token"}, 401),
        "shopper token": ({"Authorization": f"Bearer {shopper_token}"}, 401),
        "shopper token, no scheme": ({"Authorization": shopper_token}, 401),
        "editor": ({"Authorization": f"Bearer {editor}"}, 403),
    }
    for who, (headers, status) in callers.items():
        for method, path in AGENT_ENDPOINTS:
            r = client.request(method, path.format(cid=cid), headers=headers, json={"text": "hi"})
            assert r.status_code == status, (who, method, path, r.status_code)
    # nothing changed
    agent = {"Authorization": f"Bearer {login(client, 'ana')}"}
    detail = client.get(f"/api/conversations/{cid}", headers=agent).json()
    assert detail["state"] == "queued" and not detail["notes"]
    assert [m["role"] for m in detail["messages"]] == ["shopper", "bot", "system", "system"]


def test_admin_manages_users_agents_cannot(client: TestClient) -> None:
    admin = {"Authorization": f"Bearer {login(client, 'boss')}"}
    agent = {"Authorization": f"Bearer {login(client, 'ana')}"}
    new = {"username": "li", "password": "long-enough-words", "role": "agent", "languages": ["zh", "en"], "name": "Li"}
    assert client.post("/api/users", json=new, headers=agent).status_code == 403
    r = client.post("/api/users", json=new, headers=admin)
    assert r.status_code == 201 and r.json()["languages"] == ["zh", "en"]
    assert client.post("/api/users", json=new, headers=admin).status_code == 422  # taken
    bad = dict(new, username="xx", languages=["klingon"])
    assert client.post("/api/users", json=bad, headers=admin).status_code == 422
    assert {u["username"] for u in client.get("/api/users", headers=admin).json()} >= {"ana", "li", "boss"}
    assert client.get("/api/users", headers=agent).status_code == 403
    assert login(client, "li", "long-enough-words")


def test_require_role_for_other_domains(tmp_path: Path) -> None:
    """The editor domain plugs in with ``Depends(require_role("editor", "admin"))``."""
    base = make_app(tmp_path)
    add_user(base, "ed", "editor")
    add_user(base, "ana", "agent")
    app = FastAPI()
    app.state.db = base.state.db

    @app.get("/edit")
    def edit(user: Principal = Depends(require_role("editor", "admin"))) -> dict[str, str]:
        return {"user": user.username}

    with TestClient(base) as c:
        ed, ana = login(c, "ed"), login(c, "ana")
    c2 = TestClient(app)
    assert c2.get("/edit", headers={"Authorization": f"Bearer {ed}"}).json() == {"user": "ed"}
    assert c2.get("/edit", headers={"Authorization": f"Bearer {ana}"}).status_code == 403
    assert c2.get("/edit").status_code == 401


def test_bootstrap_admin_from_env_and_demo(tmp_path: Path) -> None:
    from chat_support import make_settings

    from bot.db.migrate import upgrade

    settings = make_settings(tmp_path / "a", admin_password="first-admin-pw", admin_username="root")
    db = Database.from_settings(settings)
    upgrade(db.engine)
    with db.session() as s:
        assert bootstrap(s, settings) == ["root"]
    with db.session() as s:
        assert bootstrap(s, settings) == []  # only on an empty users table
        assert s.scalar(select(User.role).where(User.username == "root")) == "admin"
    db.dispose()
    app = make_app(tmp_path / "b", demo=True)
    with TestClient(app) as c:
        assert login(c, "ana", "borderless-demo") and login(c, "admin", "borderless-demo")
    app = make_app(tmp_path / "c")  # neither: no accounts at all
    with app.state.db.session() as s:
        assert s.scalar(select(User)) is None


def test_create_user_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.auth.cli import main

    cmd = [sys.executable, "-m", "bot.auth.cli", "maria", "--role", "agent", "--languages", "es,pt",
           "--name", "María", "--password-stdin", "--data-dir", str(tmp_path)]
    r = subprocess.run(cmd, input="una-clave-larga\n", capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "created agent 'maria'" in r.stdout
    monkeypatch.setenv("BORDERLESS_NEW_PASSWORD", "otra-clave-larga")
    assert main(["maria", "--data-dir", str(tmp_path)]) == 1  # taken
    assert "taken" in capsys.readouterr().err
    app = make_app(tmp_path, engine=FakeEngine())
    with TestClient(app) as c:
        assert c.post("/api/auth/login", json={"username": "maria", "password": "una-clave-larga"}).json()[
            "languages"] == ["es", "pt"]
