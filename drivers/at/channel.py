"""One AT command channel per serial port: an asyncio.Protocol, no threads.

Habits this module exists to keep (STYLE.md):
- one command in flight, under a lock;
- the matcher is registered before the command is written, with no await in between, so an
  answer can never arrive "too early";
- every wait has a deadline chosen by the caller (seconds for queries, minutes for `+CMGS`);
- URCs are stripped by the router before anything else sees a line; only the remainder can
  complete the pending command, and answers are never matched by echo text;
- one fatal path: EOF, EIO, unplug and close all become `ConnectionLost`, which fails every
  waiter once and is reported once.
After a deadline or a cancelled command the modem may still answer late; the next command first
resynchronises (ESC if a prompt may be open, then a probe whose answer cannot be confused with a
stale one), so a late `OK` never completes the wrong command.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from drivers.at.framing import DEFAULT_MAX_LINE, PROMPT, Frame, LineFramer
from drivers.at.urc import Urc, UrcRouter, line_prefix
from drivers.errors import (
    AtError,
    CommandTimeout,
    ConnectionLost,
    ModemError,
    ModemRebootedError,
    PromptTimeout,
    SubmitOutcomeUnknown,
)
from drivers.redact import redact_line, redact_pdu

_LOG = logging.getLogger(__name__)

CR: Final = b"\r"
CTRL_Z: Final = b"\x1a"
ESC: Final = b"\x1b"

_FINAL_OK: Final = frozenset({"OK"})
_FINAL_ERROR: Final = frozenset({"ERROR", "COMMAND NOT SUPPORT", "TOO MANY PARAMETERS"})
_ERROR_PREFIXES: Final = ("+CMS ERROR:", "+CME ERROR:")
MAX_RESPONSE_LINES: Final = 4096  # > 2 lines x 255 stored messages, with room to spare
SYNC_COMMAND: Final = "AT+CMEE?"
SYNC_PREFIX: Final = "+CMEE:"


class ChannelState(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class AtResponse:
    """A completed command: its information lines (echo and URCs removed) and final result."""

    command: str
    lines: tuple[str, ...]
    final: str

    @property
    def ok(self) -> bool:
        return self.final in _FINAL_OK

    def raise_for_error(self) -> AtResponse:
        if not self.ok:
            raise AtError.from_line(self.final, command=self.command)
        return self


class _Phase(enum.Enum):
    RESPONSE = "response"
    PROMPT = "prompt"  # waiting for `> `
    SUBMITTED = "submitted"  # payload and Ctrl-Z written


class _Pending:
    __slots__ = (
        "command",
        "deadline",
        "done",
        "echo_left",
        "lines",
        "payload",
        "phase",
        "prefixes",
        "prompt",
        "stale",
    )

    def __init__(
        self,
        command: str,
        prefixes: frozenset[str] | None,
        done: asyncio.Future[str],
        prompt: asyncio.Future[None] | None,
        payload: bytes,
    ) -> None:
        self.command = command
        self.prefixes = prefixes
        self.lines: list[str] = []
        self.done = done
        self.prompt = prompt
        self.payload = payload
        self.phase = _Phase.PROMPT if prompt is not None else _Phase.RESPONSE
        self.echo_left = command
        self.stale = 0
        self.deadline: float | None = None  # loop time; set once the response phase starts


UrcCallback = Callable[[Urc], None]
LostCallback = Callable[[ConnectionLost], None]


class AtChannel(asyncio.Protocol):
    """The protocol object handed to `create_serial_connection` (or any asyncio transport)."""

    def __init__(
        self,
        *,
        name: str = "modem",
        router: UrcRouter | None = None,
        on_urc: UrcCallback | None = None,
        on_lost: LostCallback | None = None,
        max_line: int = DEFAULT_MAX_LINE,
        sync_timeout: float = 3.0,
    ) -> None:
        self.name = name
        self.router = router if router is not None else UrcRouter()
        self.framer = LineFramer(max_line=max_line)
        self.sync_timeout = sync_timeout
        self.on_urc = on_urc
        self.on_lost = on_lost
        self.state = ChannelState.CONNECTING
        self._transport: asyncio.WriteTransport | None = None
        self._loop = asyncio.get_running_loop()
        self._connected: asyncio.Future[None] = self._loop.create_future()
        self._closed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._lost: ConnectionLost | None = None
        self._needs_sync = False
        self._timer: asyncio.TimerHandle | None = None
        self._debug = _LOG.isEnabledFor(logging.DEBUG)
        self.commands = 0
        self.stale_lines = 0

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self._transport = transport
        self.state = ChannelState.OPEN
        if not self._connected.done():
            self._connected.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
            for frame in frames:
                self._on_frame(frame)
        except Exception:  # a parser bug must not kill the port; log it loudly instead
            _LOG.exception("%s: error while handling modem bytes", self.name)

    def eof_received(self) -> bool | None:
        self._fail(ConnectionLost(f"{self.name}: EOF from the port"))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"{self.name}: {exc}" if exc else f"{self.name}: port closed"
        self._fail(ConnectionLost(reason))
        self._transport = None
        self._closed.set()

    # --- public API ------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state is ChannelState.OPEN and self._lost is None

    @property
    def lost(self) -> ConnectionLost | None:
        return self._lost

    async def wait_connected(self, deadline: float) -> None:
        try:
            async with asyncio.timeout(deadline):
                await asyncio.shield(self._connected)
        except TimeoutError as exc:
            raise ConnectionLost(f"{self.name}: transport never connected") from exc

    async def execute(
        self,
        command: str,
        *,
        deadline: float,
        prefixes: frozenset[str] | None = None,
        check: bool = True,
    ) -> AtResponse:
        """Send one command line and wait for its final result.

        `prefixes`: the `+XXX:` info lines this command answers with; other `+`-lines that turn
        up meanwhile are unsolicited and never glued into the response. None accepts all.
        """
        async with self._lock:
            if self._needs_sync:
                await self._resync_if_needed()
            response = await self._exchange(command, prefixes, deadline, None, 0.0)
        return response.raise_for_error() if check else response

    async def submit(
        self,
        command: str,
        payload: str,
        *,
        prompt_deadline: float,
        deadline: float,
        prefixes: frozenset[str] = frozenset({"+CMGS:"}),
    ) -> AtResponse:
        """`AT+CMGS=<n>`, wait for `> `, write payload + Ctrl-Z, wait for the final result.

        Raises PromptTimeout (ESC sent, nothing submitted) or SubmitOutcomeUnknown (Ctrl-Z sent,
        no answer: the message may have gone out).
        """
        async with self._lock:
            await self._resync_if_needed()
            response = await self._exchange(
                command, prefixes, deadline, payload.encode("ascii"), prompt_deadline
            )
        return response

    def abort_pending(self, reason: str) -> None:
        """The modem rebooted: whatever was in flight will never be answered."""
        pending = self._pending
        if pending is None or pending.done.done():
            return
        if pending.phase is _Phase.SUBMITTED:
            error: ModemError = SubmitOutcomeUnknown(reason)
        else:
            error = ModemRebootedError(f"{self.name}: {reason} during {pending.command}")
        pending.done.set_exception(error)
        if pending.prompt is not None and not pending.prompt.done():
            pending.prompt.set_exception(error)

    def request_resync(self) -> None:
        """An answer did not fit its command (a symptom of being one answer behind): probe
        before the next command."""
        self._needs_sync = True

    def write_raw(self, data: bytes) -> None:
        """Bytes outside any command (probing a port, the ESC before a probe)."""
        if self._lost is not None:
            raise self._lost
        self._write(data)

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()
        if self._lost is None:
            self._fail(ConnectionLost(f"{self.name}: closed"), expected=True)

    async def wait_closed(self, deadline: float) -> None:
        """Wait until the transport has really let go of the port (its close runs in a task)."""
        if self._transport is None and self.state is not ChannelState.OPEN:
            return
        try:
            async with asyncio.timeout(deadline):
                await self._closed.wait()
        except TimeoutError:
            _LOG.warning("%s: transport did not confirm close", self.name)

    # --- internals ---------------------------------------------------------------------------

    async def _exchange(
        self,
        command: str,
        prefixes: frozenset[str] | None,
        deadline: float,
        payload: bytes | None,
        prompt_deadline: float,
    ) -> AtResponse:
        if self._lost is not None:
            raise self._lost
        done: asyncio.Future[str] = self._loop.create_future()
        prompt: asyncio.Future[None] | None = None
        if payload is not None:
            prompt = self._loop.create_future()
        pending = _Pending(command, prefixes, done, prompt, payload or b"")
        # matcher registered, then written: no await in between
        self._pending = pending
        self.commands += 1
        self._write(command.encode("ascii") + CR)
        try:
            if prompt is not None:
                await self._await_prompt(pending, prompt, prompt_deadline)
            self._arm(pending, deadline)
            try:
                final = await done
            except _Expired:
                self._needs_sync = True
                if pending.phase is _Phase.SUBMITTED:
                    raise SubmitOutcomeUnknown(
                        f"no answer within {deadline:g} s after Ctrl-Z"
                    ) from None
                raise CommandTimeout(
                    f"{self.name}: no final result to {command} within {deadline:g} s"
                ) from None
        except asyncio.CancelledError:
            self._needs_sync = True
            if pending.phase is _Phase.PROMPT:
                self._escape()
            raise
        finally:
            if self._pending is pending:
                self._pending = None
        return AtResponse(command, tuple(pending.lines), final)

    async def _await_prompt(
        self, pending: _Pending, prompt: asyncio.Future[None], deadline: float
    ) -> None:
        waiters: set[asyncio.Future[Any]] = {prompt, pending.done}
        try:
            async with asyncio.timeout(deadline):
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            pass
        if prompt.done() and prompt.exception() is not None:
            pending.done.exception()  # same error on both: mark it retrieved
            raise prompt.exception()  # type: ignore[misc]
        if pending.phase is _Phase.PROMPT and not pending.done.done():
            self._escape()
            self._needs_sync = True
            raise PromptTimeout(f"{self.name}: no '> ' prompt within {deadline:g} s")

    def _arm(self, pending: _Pending, deadline: float) -> None:
        """Deadlines share one timer per channel, re-armed only when it fires early: a timer
        per command (or a timeout context) costs more than the rest of a round trip."""
        pending.deadline = self._loop.time() + deadline
        timer = self._timer
        if timer is None or timer.when() > pending.deadline:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(pending.deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        pending = self._pending
        if pending is None or pending.done.done() or pending.deadline is None:
            return
        if self._loop.time() >= pending.deadline:
            pending.done.set_exception(_Expired())
        else:
            self._timer = self._loop.call_at(pending.deadline, self._on_timer)

    def _escape(self) -> None:
        """ESC ends an open `AT+CMGS` input without sending anything."""
        if self._lost is None and self._transport is not None:
            self._write(ESC)

    async def _resync_if_needed(self) -> None:
        if not self._needs_sync:
            return
        self._needs_sync = False
        if self._lost is not None:
            raise self._lost
        # A late answer to the command that timed out may still be on its way; the probe's
        # `+CMEE:` line tells our answer from a stale `OK`.
        done: asyncio.Future[str] = self._loop.create_future()
        pending = _Pending(SYNC_COMMAND, frozenset({SYNC_PREFIX}), done, None, b"")
        self._pending = pending
        self._write(SYNC_COMMAND.encode("ascii") + CR)
        try:
            async with asyncio.timeout(self.sync_timeout):
                await done
        except TimeoutError:
            if pending.stale:
                # it talks, but not `+CMEE:`; what was late has had its time to arrive
                _LOG.info("%s: resync probe unanswered; %d stale lines", self.name, pending.stale)
                return
            self._needs_sync = True
            raise CommandTimeout(f"{self.name}: modem does not answer (resync)") from None
        finally:
            if self._pending is pending:
                self._pending = None

    def _write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise self._lost or ConnectionLost(f"{self.name}: port not open")
        if self._debug:
            _LOG.debug("%s TX %s", self.name, _describe_tx(data))
        self._transport.write(data)

    def _on_frame(self, frame: Frame) -> None:
        pending = self._pending
        if frame is PROMPT:
            if pending is not None and pending.phase is _Phase.PROMPT and pending.prompt:
                try:
                    self._write(pending.payload + CTRL_Z)
                except ConnectionLost as exc:
                    self._fail(exc)  # nothing written: the submit stays ConnectionLost
                    return
                pending.phase = _Phase.SUBMITTED
                pending.echo_left = pending.payload.decode("ascii")
                if not pending.prompt.done():
                    pending.prompt.set_result(None)
            else:
                _LOG.debug("%s: stray prompt ignored", self.name)
            return
        assert isinstance(frame, str)
        line = frame
        if self._debug:
            _LOG.debug("%s RX %s", self.name, redact_line(line))
        claimed = pending.prefixes or frozenset() if pending is not None else frozenset()
        urcs, rest = self.router.feed(line, claimed)
        for urc in urcs:
            self._dispatch(urc)
        if rest is None:
            return
        if pending is None or pending.done.done():
            self.stale_lines += 1
            _LOG.debug("%s: line outside any command dropped: %s", self.name, redact_line(rest))
            return
        self._on_response_line(pending, rest)

    def _on_response_line(self, pending: _Pending, line: str) -> None:
        if pending.command == SYNC_COMMAND and not pending.lines and not line.startswith(
            SYNC_PREFIX
        ):
            self.stale_lines += 1  # a late answer to an earlier command
            pending.stale += 1
            _LOG.info("%s: late answer dropped while resyncing: %s", self.name, redact_line(line))
            return
        if not pending.lines and pending.echo_left and _is_echo(line, pending):
            return
        if line in _FINAL_OK or line in _FINAL_ERROR or line.startswith(_ERROR_PREFIXES):
            if pending.phase is _Phase.PROMPT and pending.prompt and not pending.prompt.done():
                pending.phase = _Phase.RESPONSE  # an error instead of the prompt
            pending.done.set_result(line)
            return
        if pending.prefixes is not None:
            prefix = line_prefix(line)
            if prefix is not None and prefix not in pending.prefixes:
                self.router.unknown_lines += 1
                _LOG.debug("%s: unsolicited line not glued: %s", self.name, redact_line(line))
                return
        if len(pending.lines) >= MAX_RESPONSE_LINES:
            self.stale_lines += 1  # a runaway answer: keep memory bounded, the deadline decides
            return
        pending.lines.append(line)

    def _dispatch(self, urc: Urc) -> None:
        if self.on_urc is None:
            return
        try:
            self.on_urc(urc)
        except Exception:
            _LOG.exception("%s: URC handler failed for %s", self.name, urc.prefix)

    def _fail(self, error: ConnectionLost, *, expected: bool = False) -> None:
        if self._lost is not None:
            return
        self._lost = error
        self.state = ChannelState.CLOSED
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending = self._pending
        if pending is not None:
            if not pending.done.done():
                pending.done.set_exception(_lost_during(pending, error))
            if pending.prompt is not None and not pending.prompt.done():
                pending.prompt.set_exception(error)
        if not self._connected.done():
            self._connected.set_exception(error)
            self._connected.exception()
        _LOG.log(logging.DEBUG if expected else logging.WARNING, "%s: %s", self.name, error)
        if self.on_lost is not None:
            try:
                self.on_lost(error)
            except Exception:
                _LOG.exception("%s: connection-lost handler failed", self.name)


def _lost_during(pending: _Pending, error: ConnectionLost) -> ModemError:
    """Once the PDU and Ctrl-Z are written the SMS may have gone out, whatever happens to the
    port afterwards: a caller told `ConnectionLost` would resend it blindly (a duplicate)."""
    if pending.phase is _Phase.SUBMITTED:
        lost = SubmitOutcomeUnknown(f"{error} after Ctrl-Z: the message may have been sent")
        lost.__cause__ = error
        return lost
    return error


class _Expired(Exception):
    """Internal: a command's deadline fired (turned into CommandTimeout by its waiter)."""


def _is_echo(line: str, pending: _Pending) -> bool:
    """Our own command echoed back, possibly cut in pieces by URCs (`AT+CM` ... `GS=23`)."""
    left = pending.echo_left
    if left.startswith(line):
        pending.echo_left = left[len(line) :]
        return True
    if line[:2].upper() == "AT" and pending.phase is not _Phase.SUBMITTED:
        pending.echo_left = ""
        return True  # an echo the line noise changed; still never a reply
    return False


def _describe_tx(data: bytes) -> str:
    if data == ESC:
        return "<ESC>"
    if data.endswith(CTRL_Z):
        return redact_pdu(data[:-1].decode("ascii", "replace")) + "<Ctrl-Z>"
    return redact_line(data.decode("ascii", "replace").strip())


__all__ = ["CR", "CTRL_Z", "ESC", "AtChannel", "AtResponse", "ChannelState"]
