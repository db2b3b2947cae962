"""Command tables: one dict per area, merged into a dialect's table (dialects add or replace)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.commands import general, netreg, sms, ussd

if TYPE_CHECKING:
    from sim.modem import Handler


def base_commands() -> dict[str, Handler]:
    """The TS 27.005/27.007 subset every dialect starts from."""
    return {**general.COMMANDS, **netreg.COMMANDS, **sms.COMMANDS, **ussd.COMMANDS}


__all__ = ["base_commands", "general", "netreg", "sms", "ussd"]
