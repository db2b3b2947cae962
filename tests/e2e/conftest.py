"""Fixtures for the end-to-end tests (the rig itself lives in `e2e_rig.py`)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

# tests/ is on sys.path (rootdir conftest) and tests/gateway would shadow the real package as a
# namespace package: put the repository root first.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import pytest
from e2e_rig import Rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path)
    try:
        yield r
    finally:
        await r.close()

