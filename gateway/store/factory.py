"""Build the store the configuration asks for (today: SQLite at `[store] path`)."""

from __future__ import annotations

from gateway.config import Settings

from .sqlite import Clock, SqliteStore, utcnow


async def open_store(settings: Settings, *, clock: Clock = utcnow) -> SqliteStore:
    """Open (creating, migrating and recovering as needed) the configured store."""
    return await SqliteStore.open(settings.db_path, options=settings.store_options(), clock=clock)
