"""What the store refuses, as classes a caller can map straight to an answer (HTTP 4xx, exit)."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error."""


class StoreClosedError(StoreError):
    """The store is closed or closing; nothing was written."""


class SchemaError(StoreError):
    """The database's schema is newer than this code, or a migration failed."""


class NotFoundError(StoreError, LookupError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class NotCancelableError(StoreError):
    """Only queued or scheduled messages can be canceled."""

    def __init__(self, message_id: str, status: str) -> None:
        super().__init__(f"message {message_id} is {status} and can no longer be canceled")
        self.message_id = message_id
        self.status = status


class IdempotencyConflictError(StoreError):
    """The idempotency key was used before with a different request."""

    def __init__(self, key: str, message_id: str) -> None:
        super().__init__(f"idempotency key {key!r} was used for another request ({message_id})")
        self.key = key
        self.message_id = message_id


class InvalidMessageError(StoreError, ValueError):
    """A NewMessage the store cannot record (bad segments, empty number...)."""
