"""`@record`: an immutable record, as the type checker sees it, that costs what a plain object
costs to build.

A `@dataclass(frozen=True, slots=True)` assigns each field in `__init__` through
`object.__setattr__` (its own `__setattr__` refuses). Measured on CPython 3.11, a 23-field
`Message` took 3.8 us to build against 0.27 us for the same class unfrozen, and the batch path
builds five such records per message: a fifth of the GIL time a batch message costs.

A `record` class is frozen to mypy (`dataclass_transform(frozen_default=True)`: any assignment
to a field is a type error, and `mypy --strict` gates every change), hashable and comparable
exactly as a frozen dataclass is, and a plain slotted dataclass at run time. Use it for the
records made per message on hot paths; keep `frozen=True` elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from typing_extensions import dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    return dataclass(slots=True, unsafe_hash=True)(cls)


__all__ = ["record"]
