"""State that only the writer thread touches: id generation and the round-robin cursors.

It lives beside the connection rather than in the database because it is cheap to lose: after a
restart ids stay unique (time-based) and round robin simply starts over.
"""

from __future__ import annotations

from .ids import IdGenerator


class WriterState:
    __slots__ = ("cursors", "ids", "made_ready", "max_transition_id")

    def __init__(self) -> None:
        self.ids = IdGenerator()
        # (lane rank, pool) -> last sender served there
        self.cursors: dict[tuple[int, str], str] = {}
        # Read and reset by the store on the event loop between batches (never concurrently).
        self.made_ready = 0
        self.max_transition_id = 0
