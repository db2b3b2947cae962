"""The child process that answers number look-ups for `gateway.lookup_pool`.

A look-up is pure Python regex work over libphonenumber's metadata, about half of the event
loop's time per message in a big batch. Done here, in a process of its own, it runs on another
core and outside the gateway's GIL, which the store writer needs for the same batch.

The protocol is deliberately plain: frames of a 4-byte big-endian length and a `marshal` payload
(strings, ints, tuples and None only; the fastest serialiser CPython has, and safe here because
both ends are this same interpreter and code). The child says hello (`("ready", pid)`) once it
has imported everything, then answers each request `(numbers, policy)` with one row per number,
in order. It exits when its stdin closes, so it never outlives the gateway.
"""

from __future__ import annotations

import gc
import marshal
import os
import signal
import struct
import sys
from collections.abc import Sequence
from typing import IO, Any, Final

from gateway.numbers import NumberLookup, NumberPolicy, NumberType, lookup
from gateway.store.models import Reachability

HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 64 * 1024 * 1024  # far above 10,000 numbers; a bigger length is corruption
HELLO: Final = "ready"

_NUMBER_TYPES: Final = {t.value: t for t in NumberType}
_REACHABILITY: Final = {r.value: r for r in Reachability}

LookupRow = tuple[Any, ...]
PolicyRow = tuple[str | None, bool, bool]


def policy_row(policy: NumberPolicy) -> PolicyRow:
    return (policy.default_region, policy.allow_short_codes, policy.allow_fixed_line)


def lookup_row(found: NumberLookup) -> LookupRow:
    """A look-up as marshal carries it (enums as their values)."""
    return (
        found.input, found.e164, found.valid, found.possible, found.number_type.value,
        found.region, found.country_code, found.carrier, found.time_zones, found.short_code,
        None if found.reachability is None else found.reachability.value,
        found.reachability_reason, found.can_receive_sms, found.reason,
    )


def row_lookup(row: LookupRow) -> NumberLookup:
    """`lookup_row` undone; a row of the wrong shape raises ValueError."""
    if not isinstance(row, tuple) or len(row) != 14:
        raise ValueError("not a look-up row")
    (input_, e164, valid, possible, kind, region, country_code, carrier, zones, short_code,
     reachability, reachability_reason, can_receive_sms, reason) = row
    return NumberLookup(
        input_, e164, valid, possible, _NUMBER_TYPES[kind], region, country_code, carrier,
        zones, short_code, None if reachability is None else _REACHABILITY[reachability],
        reachability_reason, can_receive_sms, reason,
    )


def frame(payload: Any) -> bytes:
    data = marshal.dumps(payload)
    return HEADER.pack(len(data)) + data


def answer(numbers: Sequence[str], policy: PolicyRow) -> list[LookupRow]:
    rules = NumberPolicy(*policy)
    return [lookup_row(lookup(number, rules)) for number in numbers]


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    stdout.write(frame((HELLO, os.getpid())))
    stdout.flush()
    while True:
        header = _read_exactly(stdin, HEADER.size)
        if header is None:
            return 0  # the gateway closed our stdin: done
        (size,) = HEADER.unpack(header)
        if size > MAX_FRAME:
            print(f"lookup worker: frame of {size} bytes refused", file=sys.stderr)
            return 2
        payload = _read_exactly(stdin, size)
        if payload is None:
            return 0
        try:
            numbers, policy = marshal.loads(payload)
            rows = answer(numbers, policy)
        except (ValueError, TypeError, EOFError) as exc:
            print(f"lookup worker: bad request: {exc}", file=sys.stderr)
            return 2
        stdout.write(frame(rows))
        stdout.flush()


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the gateway decides when we stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()  # libphonenumber's metadata is permanent; the collector need not walk it
    return serve(sys.stdin.buffer, sys.stdout.buffer)


__all__ = ["HEADER", "HELLO", "MAX_FRAME", "answer", "frame", "lookup_row", "main",
           "policy_row", "row_lookup", "serve"]


if __name__ == "__main__":  # how gateway.lookup_pool starts it: python -m gateway.lookup_worker
    raise SystemExit(main())
