"""The typed modem API the gateway uses: one `Modem` per AT port.

`Modem` turns intentions (initialise, send this PDU, read storage, ask USSD) into commands on
its channel and turns URCs into events. It knows no vendor: anything vendor-specific is asked
of its dialect, picked at initialisation from the identity strings. It owns its background
tasks (re-init after a boot banner, `+CNMA` acks) and cancels them on close.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, TypeVar

from drivers.at import commands as at
from drivers.at.channel import AtChannel, AtResponse
from drivers.at.commands import Command, Deadline
from drivers.at.fields import is_hex
from drivers.at.urc import Urc, UrcRouter
from drivers.config import ModemConfig
from drivers.dialects import Dialect, GenericDialect, detect
from drivers.errors import (
    AtError,
    CommandTimeout,
    ConnectionLost,
    ErrorClass,
    InvalidRequest,
    ModemError,
    ModemNotReady,
    ModemRebootedError,
    PortOpenError,
    ProtocolError,
    SimNotReady,
    SubmitOutcomeUnknown,
)
from drivers.events import (
    ConnectionLostEvent,
    IncomingCall,
    MessageReceived,
    MessageStored,
    ModemEvent,
    ModemRebooted,
    RegistrationChanged,
    ServiceReady,
    SimState,
    SimStateChanged,
    StatusReportReceived,
    StatusReportStored,
    StorageFull,
    UssdReceived,
    UssdStatus,
)
from drivers.models import (
    ModemHealth,
    ModemIdentity,
    SmsStorage,
    StoredMessage,
    UssdResult,
)
from drivers.redact import mask_number

_LOG = logging.getLogger(__name__)
R = TypeVar("R")

Opener = Callable[
    [Callable[[], asyncio.Protocol]],
    Awaitable[tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]
    | tuple[asyncio.BaseTransport, asyncio.BaseProtocol],
]
EventCallback = Callable[[ModemEvent], None]

_SIM_ERRORS = {10: SimState.NOT_INSERTED, 13: SimState.FAILURE, 14: SimState.BUSY,
               11: SimState.PIN_REQUIRED, 12: SimState.PUK_REQUIRED, 15: SimState.FAILURE,
               310: SimState.NOT_INSERTED, 311: SimState.PIN_REQUIRED, 313: SimState.FAILURE,
               314: SimState.BUSY, 316: SimState.PUK_REQUIRED}
_RETRYABLE = frozenset({ErrorClass.TEMPORARY, ErrorClass.MODEM})
_NOT_SUPPORTED = frozenset({("CME", 4), ("CMS", 303), (None, None), ("CME", 3)})
_MAX_INIT_ATTEMPTS = 3
DEFAULT_BAUDRATE = 115200  # what UART modules default to; USB CDC-ACM modems ignore it


class ModemState(StrEnum):
    CONNECTING = "connecting"
    INITIALIZING = "initializing"
    READY = "ready"
    NOT_READY = "not_ready"  # initialisation failed (SIM locked, modem silent...)
    LOST = "lost"
    CLOSED = "closed"


class Modem:
    """One modem behind one AT port. Create it with `open`, `connect` or `attach`."""

    def __init__(self, *, name: str = "modem", config: ModemConfig | None = None) -> None:
        self.name = name
        self.config = config or ModemConfig()
        self.dialect: Dialect = GenericDialect()
        self.identity: ModemIdentity | None = None
        self.state = ModemState.CONNECTING
        self.router = UrcRouter(self.dialect.urc_patterns())
        self.channel = AtChannel(
            name=name,
            router=self.router,
            on_urc=self._on_urc,
            on_lost=self._on_lost,
            max_line=self.config.max_line,
            sync_timeout=self.config.command_timeout,
        )
        self._deadlines = {d: float(getattr(self.config, d.value)) for d in Deadline}
        self._subscribers: list[EventCallback] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._init_lock = asyncio.Lock()
        self._storage_lock = asyncio.Lock()
        self._settled = asyncio.Event()  # set when ready, failed or lost: stop waiting
        self._init_error: BaseException | None = None
        self._boot = asyncio.Event()
        self._boot_count = 0
        self._expect_boot = False
        self._reinit_task: asyncio.Task[None] | None = None
        self._ussd_waiters: list[asyncio.Future[UssdReceived]] = []
        self._storage = self.config.storage
        self._cnma_required = False
        self._cnmi: str | None = None
        self._burst_supported = True
        self._eps_supported = True
        self._closing = False

    # --- construction --------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        name: str | None = None,
        config: ModemConfig | None = None,
        baudrate: int = DEFAULT_BAUDRATE,
    ) -> Modem:
        """Open a tty path (`/dev/serial/by-id/...`) or a pyserial URL (`socket://h:p`).

        A tty is opened exclusively (a second program on an AT port garbles both, modem-behaviour
        row 22) as pyserial's `PosixPollSerial`: the default `Serial.read` waits in `select()`,
        which fails for descriptors numbered 1,024 and up (about two hundred open modems), and
        `poll()` also reports a vanished USB device as an error instead of silence. `baudrate`
        matters only to UART-attached modules (a SIM800 on a Pi header); USB modems ignore it.
        """
        import serial
        from serial.serialposix import PosixPollSerial
        from serial_asyncio_fast import connection_for_serial, create_serial_connection

        async def opener(
            factory: Callable[[], asyncio.Protocol],
        ) -> tuple[asyncio.BaseTransport, asyncio.BaseProtocol]:
            loop = asyncio.get_running_loop()
            try:
                if "://" in url:
                    transport, protocol = await create_serial_connection(
                        loop, factory, url, baudrate=baudrate
                    )
                    return transport, protocol
                # opening a tty may block: the executor, as create_serial_connection does
                port = await loop.run_in_executor(
                    None, functools.partial(PosixPollSerial, url, baudrate, exclusive=True)
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                raise PortOpenError(f"cannot open {url}: {exc}") from exc
            transport, protocol = await connection_for_serial(loop, factory, port)
            return transport, protocol

        return await cls.connect(opener, name=name or url, config=config)

    @classmethod
    async def connect(
        cls, opener: Opener, *, name: str = "modem", config: ModemConfig | None = None
    ) -> Modem:
        """Any protocol-factory based link, sync or async: `partial(sim.link.open_in_process,
        sim_modem)`, `partial(loop.create_connection, ...)`, `create_serial_connection`..."""
        modem = cls(name=name, config=config)
        try:
            async with asyncio.timeout(modem.config.connect_timeout):
                opened = opener(lambda: modem.channel)
                if inspect.isawaitable(opened):
                    await opened
        except OSError as exc:
            raise PortOpenError(f"cannot open {name}: {exc}") from exc
        await modem.channel.wait_connected(modem.config.connect_timeout)
        modem.state = ModemState.INITIALIZING if modem.channel.is_open else ModemState.LOST
        return modem

    @classmethod
    def attach(
        cls,
        transport: asyncio.Transport,
        *,
        name: str = "modem",
        config: ModemConfig | None = None,
    ) -> Modem:
        """Take over an already connected transport (its protocol is replaced)."""
        modem = cls(name=name, config=config)
        transport.set_protocol(modem.channel)
        modem.channel.connection_made(transport)
        modem.state = ModemState.INITIALIZING
        return modem

    # --- events ---------------------------------------------------------------------------------

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Callbacks run on the event loop, synchronously: they must not block."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _publish(self, event: ModemEvent) -> None:
        for callback in tuple(self._subscribers):
            try:
                callback(event)
            except Exception:
                _LOG.exception("%s: event subscriber failed on %s", self.name, type(event).__name__)

    def _on_urc(self, urc: Urc) -> None:
        event = urc.event
        if event is None:
            return
        if isinstance(event, ModemRebooted):
            self._on_boot(event)
        elif isinstance(event, UssdReceived):
            for waiter in self._ussd_waiters:
                if not waiter.done():
                    waiter.set_result(event)
        elif isinstance(event, MessageReceived | StatusReportReceived) and self._cnma_required:
            self._spawn(self._acknowledge(), "cnma")
        self._publish(event)

    def _on_boot(self, event: ModemRebooted) -> None:
        self._boot_count += 1
        self._boot.set()
        self.channel.abort_pending(f"modem rebooted ({event.banner})")
        if self._closing:
            return
        _LOG.warning("%s: modem rebooted (%s)", self.name, event.banner)
        if self.state is ModemState.READY:
            self.state = ModemState.INITIALIZING
            self._settled.clear()
        if not self._expect_boot and (self._reinit_task is None or self._reinit_task.done()):
            self._reinit_task = self._spawn(self._reinitialize(), "reinit")

    def _on_lost(self, error: ConnectionLost) -> None:
        if self.state is not ModemState.CLOSED:
            self.state = ModemState.LOST
        self._settled.set()
        for waiter in self._ussd_waiters:
            if not waiter.done():
                waiter.set_exception(error)
        if not self._closing:
            self._publish(ConnectionLostEvent(str(error)))

    def _spawn(self, coro: Awaitable[R], what: str) -> asyncio.Task[R]:
        async def run() -> R:
            return await coro

        task = asyncio.get_running_loop().create_task(run(), name=f"{self.name}:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- command helpers -------------------------------------------------------------------------

    async def execute(self, command: Command[R], *args: int | str) -> R:
        """Run one declared command (from `drivers.at.commands` or a dialect) and parse it."""
        return await self._run(command, *args)

    async def _run(self, command: Command[R], *args: int | str) -> R:
        line = command.render(*args) if args else command.template
        response = await self.channel.execute(
            line, deadline=self._deadlines[command.deadline], prefixes=command.prefixes
        )
        try:
            return command.parse(response)
        except ProtocolError:
            self.channel.request_resync()
            raise

    async def _run_raw(self, line: str, deadline: float | None = None) -> AtResponse:
        return await self.channel.execute(line, deadline=deadline or self.config.command_timeout)

    async def _optional(self, command: Command[R], *args: int | str) -> R | None:
        """A command some firmwares reject: their error means "no value", nothing more."""
        try:
            return await self._run(command, *args)
        except (AtError, ProtocolError) as exc:
            _LOG.debug("%s: %s not available: %s", self.name, command.template, exc)
            return None

    async def _retrying(self, deadline: float, step: Callable[[], Awaitable[R]]) -> R:
        """Retry a step that fails while the modem is still starting (SIM busy, SMS not ready)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while True:
            try:
                return await step()
            except AtError as exc:
                if exc.error_class not in _RETRYABLE or loop.time() >= end:
                    raise
                _LOG.debug("%s: not ready yet (%s); retrying", self.name, exc)
            await asyncio.sleep(self.config.retry_interval)

    async def _await_ready(self) -> None:
        if self.channel.lost is not None:
            raise self.channel.lost
        if self.state is ModemState.READY:
            return
        if self.state is ModemState.NOT_READY:
            raise ModemNotReady(f"{self.name}: not initialised") from self._init_error
        try:
            async with asyncio.timeout(self.config.ready_timeout):
                await self._settled.wait()
        except TimeoutError:
            raise ModemNotReady(f"{self.name}: initialisation still running") from None
        if self.channel.lost is not None:
            raise self.channel.lost
        if not self.ready:
            raise ModemNotReady(f"{self.name}: not initialised") from self._init_error

    @property
    def ready(self) -> bool:
        return self.state is ModemState.READY

    # --- initialisation --------------------------------------------------------------------------

    async def initialize(self) -> ModemIdentity:
        """Probe, settings, identity, SIM and SMS readiness, dialect. Idempotent; rerun by itself
        after a boot banner. Raises SimNotReady when the SIM wants a PIN (never entered here)."""
        async with self._init_lock:
            self._settled.clear()
            self.state = ModemState.INITIALIZING
            try:
                identity = await self._initialize_with_retries()
            except BaseException as exc:
                self._init_error = exc
                if self.channel.lost is not None:
                    self.state = ModemState.LOST
                elif self.state is not ModemState.CLOSED:
                    self.state = ModemState.NOT_READY
                self._settled.set()
                raise
            self.identity = identity
            self._init_error = None
            self.state = ModemState.READY
            self._settled.set()
            return identity

    async def _initialize_with_retries(self) -> ModemIdentity:
        for attempt in range(1, _MAX_INIT_ATTEMPTS + 1):
            boots = self._boot_count
            try:
                identity = await self._initialize_once()
            except ModemRebootedError:
                if attempt == _MAX_INIT_ATTEMPTS:
                    raise
                await asyncio.sleep(self.config.reinit_delay)
                continue
            if boots == self._boot_count:
                return identity
            _LOG.info("%s: rebooted during init; starting over", self.name)
        raise ModemRebootedError(f"{self.name}: kept rebooting during initialisation")

    async def ping(self) -> None:
        """ESC, then `AT` until OK (a watchdog's first escalation step, row 19): raises
        CommandTimeout when the modem stays silent, ConnectionLost when the port is gone."""
        await self._probe()

    async def _probe(self) -> None:
        """ESC closes a `> ` prompt a previous program left open; then AT until OK."""
        last: ModemError | None = None
        for _ in range(self.config.probe_attempts):
            self.channel.write_raw(b"\x1b")
            try:
                await self._run_raw("AT", self.config.probe_timeout)
                return
            except (CommandTimeout, AtError) as exc:
                last = exc
        raise CommandTimeout(f"{self.name}: no answer to AT") from last

    async def _initialize_once(self) -> ModemIdentity:
        await self._probe()
        await self._run(at.ECHO_OFF)
        await self._optional(at.ERRORS_NUMERIC)
        manufacturer = await self._optional(at.MANUFACTURER) or ""
        model = await self._optional(at.MODEL) or ""
        revision = await self._optional(at.REVISION) or ""
        dialect_class = detect(manufacturer, model)
        if dialect_class is GenericDialect:
            ati = await self._optional(at.ATI) or ()
            dialect_class = detect(manufacturer, model, ati)
        if not isinstance(self.dialect, dialect_class) or type(self.dialect) is not dialect_class:
            self.dialect = dialect_class()
            self.router.set_patterns(
                self.dialect.urc_patterns(), ignored=self.dialect.ignored_prefixes
            )
        self._storage = self.dialect.storage or self.config.storage
        for line in self.dialect.setup_commands:
            try:
                await self._run_raw(line)
            except AtError as exc:
                _LOG.info("%s: vendor setup %s refused: %s", self.name, line, exc)
        imei = await self._run(at.IMEI)
        await self._wait_for_sim()
        imsi = await self._optional(at.IMSI)
        iccid = None
        for command in self.dialect.iccid_commands:
            iccid = await self._optional(command)
            if iccid:
                break
        msisdn = await self._optional(at.OWN_NUMBER)
        await self._optional(at.CHARSET_IRA)
        await self._retrying(self.config.sms_ready_timeout, self._setup_sms)
        await self._optional(at.REGISTRATION_URCS)
        self._eps_supported = await self._optional_ok(at.EPS_REGISTRATION_URCS)
        identity = ModemIdentity(
            imei=imei,
            imsi=imsi,
            iccid=iccid,
            msisdn=msisdn,
            manufacturer=manufacturer,
            model=model,
            revision=revision,
            dialect=self.dialect.name,
        )
        _LOG.info(
            "%s: ready: %s %s (%s dialect), IMEI %s, CNMI %s",
            self.name, manufacturer, model, self.dialect.name, mask_number(imei), self._cnmi,
        )
        return identity

    async def _optional_ok(self, command: Command[None]) -> bool:
        try:
            await self._run(command)
        except AtError:
            return False
        return True

    async def _wait_for_sim(self) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + self.config.sim_ready_timeout
        while True:
            state = await self._sim_state(raise_sim_errors=True)
            if state is SimState.READY:
                return
            if state in (SimState.PIN_REQUIRED, SimState.PUK_REQUIRED, SimState.NOT_INSERTED):
                raise SimNotReady(state)
            if loop.time() >= end:
                raise SimNotReady(state, "SIM did not become ready")
            await asyncio.sleep(self.config.retry_interval)

    async def _sim_state(self, *, raise_sim_errors: bool = False) -> SimState:
        try:
            return await self._run(at.SIM_STATE)
        except AtError as exc:
            state = _SIM_ERRORS.get(exc.code or -1) if exc.kind else None
            if state is None:
                return SimState.BUSY if exc.error_class in _RETRYABLE else SimState.UNKNOWN
            if raise_sim_errors and exc.error_class is ErrorClass.SIM:
                raise
            return state

    async def _setup_sms(self) -> None:
        await self._run(at.PDU_MODE)
        service = await self._optional(at.SMS_SERVICE)
        self._cnma_required = service == 1
        await self._run(at.SET_STORAGE, self._storage)
        last: AtError | None = None
        for setting in self.dialect.cnmi_order:
            try:
                await self._run(at.NEW_MESSAGE_INDICATIONS, setting)
            except AtError as exc:
                if exc.error_class is ErrorClass.TEMPORARY and exc.kind is not None:
                    raise  # not ready yet: _retrying starts the SMS setup again
                last = exc
                continue
            self._cnmi = setting
            return
        assert last is not None
        raise last

    async def _reinitialize(self) -> None:
        await asyncio.sleep(self.config.reinit_delay)
        try:
            await self.initialize()
        except ConnectionLost:
            return
        except ModemError as exc:
            _LOG.warning("%s: re-initialisation after reboot failed: %s", self.name, exc)

    # --- health -----------------------------------------------------------------------------------

    async def health(self) -> ModemHealth:
        """One poll: SIM, registration, operator, signal, storage. Unsupported pieces are None;
        a silent or lost modem raises (CommandTimeout / ConnectionLost)."""
        sim_state = await self._sim_state()
        registration = await self._optional(at.REGISTRATION)
        if registration not in (1, 5) and self._eps_supported:
            eps = await self._optional(at.EPS_REGISTRATION)
            if eps in (1, 5, 6, 7):
                registration = eps
        registered = registration in (1, 5, 6, 7)
        numeric = name = None
        if registered:
            numeric = await self._operator(2)
            name = await self._operator(0)
        rssi: int | None = None
        dbm: int | None = None
        try:
            signal = await self._run(at.SIGNAL)
        except (AtError, ProtocolError):
            pass
        else:
            rssi, dbm = signal[0], at.rssi_to_dbm(signal[0])
        if dbm is None:
            dbm = await self._optional(at.EXTENDED_SIGNAL)
        storage: SmsStorage | None = None
        if sim_state is SimState.READY:
            storage = await self._optional(at.STORAGE)
        return ModemHealth(
            sim_state=sim_state,
            registration=registration,
            registered=registered,
            roaming=registration in (5, 7),
            operator_numeric=numeric,
            operator_name=name,
            signal_dbm=dbm,
            rssi=rssi,
            storage_used=storage.used if storage else None,
            storage_total=storage.total if storage else None,
        )

    async def _operator(self, fmt: int) -> str | None:
        await self._optional(at.OPERATOR_FORMAT, fmt)
        op = await self._optional(at.OPERATOR)
        return op.name if op is not None else None

    # --- SMS --------------------------------------------------------------------------------------

    async def send_pdu(self, hex_pdu: str, tpdu_length: int) -> int:
        """Submit one SMS-SUBMIT (SMSC prefix + TPDU, as `drivers.pdu.encode_submit` makes it).

        Returns TP-MR. Raises AtError (its class says retry/fail/SIM/repair), PromptTimeout
        (nothing sent), SubmitOutcomeUnknown (may have been sent), ConnectionLost.
        """
        _check_submit(hex_pdu, tpdu_length)
        await self._await_ready()
        response = await self.channel.submit(
            at.SUBMIT.format(tpdu_length),
            hex_pdu.upper(),
            prompt_deadline=self.config.prompt_timeout,
            deadline=self.config.submit_timeout,
        )
        response.raise_for_error()
        try:
            mr = at.message_reference(response)
        except ProtocolError as exc:
            self.channel.request_resync()
            raise SubmitOutcomeUnknown(str(exc)) from exc
        if mr is None:
            self.channel.request_resync()
            raise SubmitOutcomeUnknown("OK without +CMGS: <mr>")
        return mr

    async def set_burst(self, on: bool) -> None:
        """`AT+CMMS=2` keeps the radio link up between submits; a modem without it is left be."""
        if not self._burst_supported:
            return
        try:
            await self._run(at.MORE_MESSAGES, 2 if on else 0)
        except AtError as exc:
            if (exc.kind, exc.code) in _NOT_SUPPORTED:
                self._burst_supported = False
                _LOG.info("%s: AT+CMMS not supported", self.name)
                return
            raise

    async def list_messages(self, *, storage: str | None = None) -> list[StoredMessage]:
        """Every message in the read storage (`AT+CMGL=4`, PDU mode). `storage="SR"` lists the
        status reports a modem stored while nobody was listening (the start-up drain)."""
        await self._await_ready()
        async with self._storage_lock, self._in_storage(storage) as where:
            response = await self.channel.execute(
                at.LIST_MESSAGES,
                deadline=self.config.list_timeout,
                prefixes=frozenset({"+CMGL:"}),
            )
        return at.message_list(where)(response)

    async def read_message(self, index: int, *, storage: str | None = None) -> StoredMessage | None:
        """One stored message; None when the slot is empty. `storage="SR"` reads a status report
        announced by `+CDSI`."""
        await self._await_ready()
        async with self._storage_lock, self._in_storage(storage) as where:
            try:
                found = await self._run(at.READ_MESSAGE, index)
            except AtError as exc:
                if exc.error_class is ErrorClass.IGNORE:
                    return None
                raise
        if found is None:
            return None
        return StoredMessage(index, where, found.stat, found.pdu_hex)

    async def delete_message(self, index: int, *, storage: str | None = None) -> None:
        """Delete after the caller committed the message; an empty slot is not an error."""
        await self._await_ready()
        async with self._storage_lock, self._in_storage(storage):
            try:
                await self._run(at.DELETE_MESSAGE, index)
            except AtError as exc:
                if exc.error_class is not ErrorClass.IGNORE:
                    raise

    def _in_storage(self, storage: str | None) -> _StorageSwitch:
        return _StorageSwitch(self, storage)

    async def _acknowledge(self) -> None:
        try:
            await self._run(at.ACK_MESSAGE)
        except (AtError, CommandTimeout) as exc:
            _LOG.info("%s: +CNMA failed: %s", self.name, exc)
        except ConnectionLost:
            return

    # --- USSD ------------------------------------------------------------------------------------

    async def ussd(self, code: str, *, timeout: float | None = None) -> UssdResult:  # noqa: ASYNC109
        """Ask a service code (`*100#`); only digits, `*`, `#` and `+` are accepted."""
        deadline = timeout if timeout is not None else self.config.ussd_timeout
        text, dcs = self.dialect.encode_ussd(code)
        await self._await_ready()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[UssdReceived] = loop.create_future()
        self._ussd_waiters.append(waiter)  # registered before the request is written
        try:
            async with asyncio.timeout(deadline):
                await self.channel.execute(
                    at.USSD_REQUEST.render(text, dcs), deadline=deadline, prefixes=frozenset()
                )
                event = await waiter
        except TimeoutError:
            await self._cancel_ussd()
            raise CommandTimeout(f"{self.name}: no USSD answer within {deadline:g} s") from None
        finally:
            self._ussd_waiters.remove(waiter)
            if waiter.done() and not waiter.cancelled():
                waiter.exception()
        if event.status == UssdStatus.ACTION_REQUIRED:
            await self._cancel_ussd()  # we never continue a menu: close the session
        return UssdResult(event.status, event.text, event.dcs, event.raw)

    async def _cancel_ussd(self) -> None:
        try:
            await self._run(at.USSD_CANCEL)
        except (AtError, CommandTimeout) as exc:
            _LOG.debug("%s: USSD cancel: %s", self.name, exc)

    # --- reset and close ------------------------------------------------------------------------

    async def reset(self) -> None:
        """`AT+CFUN=1,1`, wait for the modem to boot, initialise again.

        Real hardware often re-enumerates on reset: then this raises ConnectionLost and the
        supervisor reopens the port by its by-id path.
        """
        self._expect_boot = True
        self._boot.clear()
        self.state = ModemState.INITIALIZING
        self._settled.clear()
        try:
            try:
                await self._run(at.RESET)
            except ModemRebootedError:
                pass  # the boot banner overtook the OK
            await self._wait_for_boot()
            await asyncio.sleep(self.config.reinit_delay)
        finally:
            self._expect_boot = False
        await self.initialize()

    async def _wait_for_boot(self) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + self.config.boot_timeout
        if self.dialect.announces_boot:
            try:
                async with asyncio.timeout(self.config.boot_timeout):
                    await self._boot.wait()
                return
            except TimeoutError:
                _LOG.info("%s: no boot banner after reset; probing", self.name)
        await asyncio.sleep(self.config.reinit_delay)
        while True:  # a modem without banners: it is back when it answers
            try:
                await self._probe()
                return
            except CommandTimeout:
                if loop.time() >= end:
                    raise

    async def close(self) -> None:
        """Cancel owned tasks, release the port, and wait until it is really released."""
        self._closing = True
        self.state = ModemState.CLOSED
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.channel.close()
        self._settled.set()
        await self.channel.wait_closed(self.config.close_timeout)

    async def __aenter__(self) -> Modem:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _StorageSwitch:
    """Point the read/delete memory at `storage` for one operation, then back (`AT+CPMS`)."""

    def __init__(self, modem: Modem, storage: str | None) -> None:
        self.modem = modem
        self.storage = storage
        self.switched = False

    async def __aenter__(self) -> str:
        home = self.modem._storage
        if self.storage is None or self.storage == home:
            return home
        await self.modem._run(at.SET_READ_STORAGE, self.storage)
        self.switched = True
        return self.storage

    async def __aexit__(self, *exc_info: object) -> None:
        if self.switched and self.modem.channel.is_open:
            try:
                await self.modem._run(at.SET_READ_STORAGE, self.modem._storage)
            except (AtError, CommandTimeout) as exc:
                _LOG.warning("%s: could not restore read storage: %s", self.modem.name, exc)


def _check_submit(hex_pdu: str, tpdu_length: int) -> None:
    """Refuse a PDU whose length byte disagrees with `tpdu_length`: the modem would wait for
    more input (or cut ours) and the failure would look like a hung modem."""
    if not is_hex(hex_pdu):
        raise InvalidRequest("PDU must be an even-length hex string")
    smsc_octets = int(hex_pdu[:2], 16)
    tpdu_octets = len(hex_pdu) // 2 - 1 - smsc_octets
    if isinstance(tpdu_length, bool) or not isinstance(tpdu_length, int):
        raise InvalidRequest("tpdu_length must be an int")
    if tpdu_octets != tpdu_length or not 1 <= tpdu_length <= 180:
        raise InvalidRequest(
            f"tpdu_length {tpdu_length} does not match the PDU ({tpdu_octets} TPDU octets)"
        )


__all__ = [
    "ConnectionLostEvent",
    "IncomingCall",
    "MessageReceived",
    "MessageStored",
    "Modem",
    "ModemConfig",
    "ModemEvent",
    "ModemHealth",
    "ModemIdentity",
    "ModemRebooted",
    "ModemState",
    "RegistrationChanged",
    "ServiceReady",
    "SimStateChanged",
    "StatusReportReceived",
    "StatusReportStored",
    "StorageFull",
    "StoredMessage",
    "UssdReceived",
    "UssdResult",
]
