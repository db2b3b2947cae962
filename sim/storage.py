"""SMS storage areas ("SM" on the SIM, "ME" in the modem, "SR" for status reports).

Each area has a fixed capacity and hands out the lowest free index, starting at 0 or 1 depending
on the firmware (Quectel and Huawei count from 0, SIMCom from 1): drivers that assume one or the
other get caught here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Stat(IntEnum):
    """`<stat>` of +CMGL/+CMGR in PDU mode; text mode prints the names of TS 27.005 3.1."""

    REC_UNREAD = 0
    REC_READ = 1
    STO_UNSENT = 2
    STO_SENT = 3

    @property
    def text(self) -> str:
        return self.name.replace("_", " ")

    @classmethod
    def from_text(cls, text: str) -> Stat | None:
        try:
            return cls[text.strip().upper().replace(" ", "_")]
        except KeyError:
            return None


@dataclass(slots=True)
class StoredMessage:
    stat: Stat
    pdu: str  # upper-case hex, SMSC prefix included, exactly as +CMGR prints it
    tpdu_length: int
    filler: bool = False  # planted by the storage_full fault


class MessageStore:
    """One storage area; indexes from `first_index`, at most `capacity` messages."""

    __slots__ = ("capacity", "first_index", "messages", "name")

    def __init__(self, name: str, capacity: int, first_index: int = 1) -> None:
        self.name = name
        self.capacity = capacity
        self.first_index = first_index
        self.messages: dict[int, StoredMessage] = {}

    @property
    def used(self) -> int:
        return len(self.messages)

    @property
    def full(self) -> bool:
        return len(self.messages) >= self.capacity

    def add(self, message: StoredMessage) -> int | None:
        """Store at the lowest free index; None when full."""
        if self.full:
            return None
        index = self.first_index
        while index in self.messages:
            index += 1
        self.messages[index] = message
        return index

    def valid_index(self, index: int) -> bool:
        return self.first_index <= index < self.first_index + self.capacity

    def get(self, index: int) -> StoredMessage | None:
        return self.messages.get(index)

    def delete(self, index: int) -> bool:
        return self.messages.pop(index, None) is not None

    def delete_flagged(self, flag: int) -> int:
        """`AT+CMGD=<i>,<delflag>`: 1 read, 2 read+sent, 3 read+sent+unsent, 4 all."""
        keep: set[Stat]
        if flag >= 4:
            keep = set()
        elif flag == 3:
            keep = {Stat.REC_UNREAD}
        elif flag == 2:
            keep = {Stat.REC_UNREAD, Stat.STO_UNSENT}
        else:
            keep = {Stat.REC_UNREAD, Stat.STO_UNSENT, Stat.STO_SENT}
        doomed = [i for i, m in self.messages.items() if m.stat not in keep]
        for i in doomed:
            del self.messages[i]
        return len(doomed)

    def clear(self) -> None:
        self.messages.clear()

    def listing(self, stat: Stat | None) -> list[tuple[int, StoredMessage]]:
        return sorted(
            ((i, m) for i, m in self.messages.items() if stat is None or m.stat == stat),
            key=lambda item: item[0],
        )
