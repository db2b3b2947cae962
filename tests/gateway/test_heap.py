"""`heap.settle`: the start-up heap frozen, the young generation collected rarely."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gateway import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_is_alive_and_raises_the_young_threshold(restored_gc: None) -> None:
    kept = [{"alive": i} for i in range(1000)]  # start-up objects that stay
    frozen = heap.settle()
    assert frozen == gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    # a full collection no longer walks the frozen objects: they are in no generation
    assert not any(obj is kept for obj in gc.get_objects())
