"""schemathesis over the app's own OpenAPI, against the real server (uvicorn on a loopback port): for every
operation, generated requests (valid and invalid, as an admin) must never get a 5xx, and every response must
match what the OpenAPI declares (status codes, content types, bodies: ``ErrorResponse`` for errors).

Bounded: ``FUZZ_EXAMPLES`` examples per operation (env ``BORDERLESS_FUZZ_EXAMPLES``), derandomised so CI runs
are reproducible; raise the number locally to search further.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from chat_support import LiveServer, make_app, queued_conversation
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

FUZZ_EXAMPLES = int(os.environ.get("BORDERLESS_FUZZ_EXAMPLES", "6"))
#: Previews run the real answer engine; this server has the fast stand-in, which answers 503 engine_unavailable
#: (documented). tests/test_editor_api.py covers previews with the real engine.
SKIP = {"POST /api/editor/preview"}
#: Every value of these operations' parameters is valid (a free string, or none at all): hypothesis spends seconds
#: finding that nothing invalid can be generated.
NO_NEGATIVE = {"GET /api/i18n/{lang}", "GET /healthz"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    app = make_app(data_dir, demo=True)
    queued_conversation(app)  # something for the queue and conversation endpoints to return
    with LiveServer(app) as server:
        yield server


def _login(base: str) -> str:
    r = httpx.post(f"{base}/api/auth/login", json={"username": "admin", "password": "borderless-demo"}, timeout=10)
    r.raise_for_status()
    return r.json()["token"]


@pytest.fixture(scope="module")
def admin_token(live: LiveServer) -> str:
    return _login(live.http)


def test_openapi_fuzz(live: LiveServer) -> None:
    api = schemathesis.openapi.from_url(f"{live.http}/openapi.json")
    admin = _login(live.http)
    failures: list[str] = []
    operations = 0
    timings: list[tuple[float, str]] = []
    for result in api.get_all_operations():
        operation = result.ok()
        if operation.label in SKIP:
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode == GenerationMode.NEGATIVE and operation.label in NO_NEGATIVE:
                continue

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            def run(case: Any) -> None:
                # Logging out revokes the token it is sent with: those cases get a token of their own.
                token = _login(live.http) if case.path == "/api/auth/logout" else admin
                case.call_and_validate(base_url=live.http, headers={"Authorization": f"Bearer {token}"},
                                       checks=CHECKS)

            started = time.perf_counter()
            try:
                run()
            except Unsatisfiable:  # nothing invalid to generate (no parameters, or only a free string)
                pass
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failures, report together
                failures.append(f"{operation.label} ({mode}): {str(exc)[:1500]}")
            timings.append((time.perf_counter() - started, f"{operation.label} {mode}"))
    print(f"fuzzed {operations} operations in {sum(t for t, _ in timings):.1f} s; slowest:",
          [(round(t, 1), label) for t, label in sorted(timings, reverse=True)[:15]])
    assert operations >= 20
    assert not failures, "\n\n".join(failures)
