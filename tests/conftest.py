"""Fixtures shared by several test modules."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from multinode_support import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Debian's redis-server on a free loopback port, for one test (skipped when the package is missing)."""
    if shutil.which("redis-server") is None:
        pytest.skip("missing Debian package: redis-server (make system-deps)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
