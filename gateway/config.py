"""Configuration: one TOML file, `SMSGW_*` environment variables and command-line flags,
validated once into frozen settings that are passed explicitly to whoever needs them.

Precedence, highest first: flags, environment, file, defaults. The file is `--config FILE`,
else `$SMSGW_CONFIG`, else `/etc/smsgw/smsgw.toml` when it exists. Environment variables nest
with `__` (`SMSGW_SERVER__LISTEN=0.0.0.0:8080`, `SMSGW_NUMBERS__DEFAULT_REGION=GB`); lists and
tables take JSON (`SMSGW_MODEMS='[{"path": "/dev/ttyUSB2"}]'`). Unknown keys are errors that
name the key and where it came from, in the file and in the environment alike: a typo never
silently falls back to a default.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.health.config import HealthConfig
from gateway.messaging.config import MessagingConfig
from gateway.store.options import StoreOptions, UncertainPolicy

DEFAULT_CONFIG_FILE = Path("/etc/smsgw/smsgw.toml")
ENV_PREFIX = "SMSGW_"
CONFIG_ENV = "SMSGW_CONFIG"  # names the file; not a setting itself
# Variables of the same prefix that belong to the client commands (`smsgw send`, `status`, ...)
# and the benchmarks, not to the daemon: never mistaken for unknown settings.
NON_SETTING_ENV = frozenset({CONFIG_ENV, "SMSGW_API_KEY", "SMSGW_URL"})
NON_SETTING_ENV_PREFIXES = ("SMSGW_BENCH_",)
DB_NAME = "smsgw.db"

_TOML_FILE: ContextVar[Path | None] = ContextVar("smsgw_toml_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sections --------------------------------------------------------------------------------

_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})$")


class ServerConfig(_Section):
    listen: str = Field(default="127.0.0.1:8080", description="HTTP API HOST:PORT ([v6]:PORT)")
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        match = _LISTEN.match(value.strip())
        if match is None or not 0 < int(match.group("port")) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
        return value.strip()

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        return self

    @property
    def host(self) -> str:
        match = _LISTEN.match(self.listen)
        assert match is not None
        return match.group("v6") or match.group("host") or "0.0.0.0"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def loopback_only(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class StoreConfig(_Section):
    path: Path | None = Field(
        default=None,
        description="SQLite file; default $STATE_DIRECTORY/smsgw.db, else ./var/smsgw.db",
    )


class NumbersConfig(_Section):
    default_region: str | None = Field(
        default=None, description="ISO 3166 region for numbers written without +country code"
    )
    allow_short_codes: bool = False
    allow_fixed_line: bool = False
    invalid_ttl_days: float = Field(default=30, gt=0)
    absent_ttl_hours: float = Field(default=6, gt=0)
    lookup_processes: int | None = Field(
        default=None, ge=0, le=16,
        description="child processes that look up the numbers of big batches (200 numbers or"
        " more) off the event loop; unset: one per CPU beyond the first, at most 2; 0: none",
    )

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}: use an ISO 3166 code such as GB or US")
        return region


class LaneMode(StrEnum):
    STRICT = "strict"  # a lower lane is served only when every higher lane is empty
    WEIGHTED = "weighted"  # smooth weighted round robin over lanes with work


class LaneWeights(_Section):
    otp: int = Field(default=8, ge=1)
    high: int = Field(default=4, ge=1)
    normal: int = Field(default=2, ge=1)
    bulk: int = Field(default=1, ge=1)


class RetryConfig(_Section):
    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff_initial_s: float = Field(default=5.0, gt=0)
    backoff_max_s: float = Field(default=600.0, gt=0)
    backoff_multiplier: float = Field(default=2.0, ge=1)
    jitter: float = Field(default=0.1, ge=0, le=1)


class SchedulerConfig(_Section):
    lanes: LaneMode = LaneMode.STRICT
    lane_weights: LaneWeights = LaneWeights()
    fairness: Literal["sender", "none"] = "sender"
    retry: RetryConfig = RetryConfig()
    uncertain_policy: UncertainPolicy = UncertainPolicy.RESEND
    prefer_on_net: bool = False
    route_fallback_after_s: float = Field(default=60.0, ge=0)
    sticky_days: float = Field(default=30.0, ge=0, description="0 turns sticky SIM off")
    report_window_hours: float = Field(default=72.0, gt=0)
    request_status_report: bool = True
    tick_s: float = Field(default=1.0, gt=0, le=60)


class InboundConfig(_Section):
    reassembly_timeout_s: float = Field(default=600.0, gt=0)
    dedupe_days: float = Field(default=7.0, gt=0)


class LimitsConfig(_Section):
    per_minute: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)
    unique_recipients_per_month: int | None = Field(default=None, ge=1)


class ModemConfig(_Section):
    path: str = Field(description="device path or glob, e.g. /dev/serial/by-id/usb-Quectel*-if02*")
    name: str | None = None
    group: str | None = None
    limits: LimitsConfig = LimitsConfig()
    baudrate: int = Field(default=115200, gt=0)
    smsc: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a modem needs a path or glob")
        return value.strip()

    @property
    def is_glob(self) -> bool:
        return any(c in self.path for c in "*?[")


class RoutingRule(_Section):
    """Destination prefix and/or carrier -> preferred SIM group. `fallback = false` makes the
    group mandatory (messages wait for it); otherwise other SIMs take over when the group has no
    available SIM or after `route_fallback_after_s`."""

    prefix: list[str] = Field(default_factory=list)
    carrier: str | None = None
    group: str
    fallback: bool = True

    @field_validator("prefix", mode="before")
    @classmethod
    def _prefixes(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("prefix")
    @classmethod
    def _digits(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not re.fullmatch(r"\+\d{1,15}", prefix):
                raise ValueError(f"prefix {prefix!r} must be + and digits, e.g. +447")
        return value

    @model_validator(mode="after")
    def _something(self) -> RoutingRule:
        if not self.prefix and not self.carrier:
            raise ValueError("a routing rule needs a prefix or a carrier")
        return self


class SimConfig(_Section):
    count: int = Field(default=0, ge=0, le=1024, description="simulated modems to start on ptys")
    group: str | None = None
    limits: LimitsConfig = LimitsConfig()


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    redact: bool = True


class ApiConfig(_Section):
    max_segments: int = Field(default=10, ge=1, le=255)
    max_batch: int = Field(default=10000, ge=1)
    rate_limit_per_second: float = Field(default=100.0, gt=0)


class WebhooksConfig(_Section):
    allow_private_targets: bool = False
    timeout_s: float = Field(default=10.0, gt=0)


class PoolConfig(_Section):
    """Supervision timings (`PoolOptions` with an `_s` suffix). Unset keys keep the built-in
    value, which is shorter for simulated modems: a default here would override that."""

    health_interval_s: float | None = Field(default=None, gt=0, le=3600)
    degraded_poll_s: float | None = Field(default=None, gt=0, le=3600)
    degraded_reset_after_s: float | None = Field(default=None, gt=0, le=86400)
    scan_interval_s: float | None = Field(default=None, gt=0, le=3600)
    reopen_delay_s: float | None = Field(default=None, ge=0, le=3600)
    quarantine_initial_s: float | None = Field(default=None, gt=0, le=86400)
    quarantine_max_s: float | None = Field(default=None, gt=0, le=604800)
    stable_after_s: float | None = Field(default=None, gt=0, le=86400)
    idle_wait_s: float | None = Field(default=None, gt=0, le=600)
    repair_timeout_s: float | None = Field(default=None, gt=0, le=3600)
    open_timeout_s: float | None = Field(default=None, gt=0, le=3600)
    shutdown_grace_s: float = Field(default=15.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _backoff_order(self) -> PoolConfig:
        low, high = self.quarantine_initial_s, self.quarantine_max_s
        if low is not None and high is not None and low > high:
            raise ValueError("quarantine_initial_s must not exceed quarantine_max_s")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    numbers: NumbersConfig = NumbersConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    inbound: InboundConfig = InboundConfig()
    modems: list[ModemConfig] = Field(default_factory=list)
    routing: list[RoutingRule] = Field(default_factory=list)
    sim: SimConfig = SimConfig()
    logging: LoggingConfig = LoggingConfig()
    api: ApiConfig = ApiConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    messaging: MessagingConfig = MessagingConfig()
    health: HealthConfig = HealthConfig()
    pool: PoolConfig = PoolConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _TOML_FILE.get()
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @model_validator(mode="after")
    def _modem_names(self) -> Settings:
        names = [m.name for m in self.modems if m.name]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"modem names must be unique: {', '.join(dupes)}")
        return self

    # -- derived views --------------------------------------------------------------------

    def store_options(self) -> StoreOptions:
        scheduler = self.scheduler
        return StoreOptions(
            uncertain_policy=scheduler.uncertain_policy,
            sticky_ttl=timedelta(days=scheduler.sticky_days) if scheduler.sticky_days else None,
            report_window=timedelta(hours=scheduler.report_window_hours),
            inbound_dedupe_ttl=timedelta(days=self.inbound.dedupe_days),
            invalid_number_ttl=timedelta(days=self.numbers.invalid_ttl_days),
            absent_number_ttl=timedelta(hours=self.numbers.absent_ttl_hours),
        )

    @property
    def db_path(self) -> Path:
        assert self.store.path is not None, "load_config fills in the default path"
        return self.store.path


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    key: str
    message: str
    source: str  # "file PATH", "environment SMSGW_...", "command line", "defaults"

    def __str__(self) -> str:
        return f"{self.key}: {self.message} ({self.source})"


class ConfigError(Exception):
    """Every problem found, each naming its key; `str()` is one line per problem."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def default_state_directory(environ: Mapping[str, str]) -> Path:
    """systemd's `$STATE_DIRECTORY` (first entry when it lists several), else ./var."""
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) if state else Path("var")


def default_config_file(environ: Mapping[str, str]) -> Path | None:
    named = environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _key(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _env_names(environ: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased path ('server.listen') -> the variable that set it."""
    names = {}
    for name in environ:
        upper = name.upper()
        if (
            upper.startswith(ENV_PREFIX)
            and upper not in NON_SETTING_ENV
            and not upper.startswith(NON_SETTING_ENV_PREFIXES)
        ):
            names[".".join(name[len(ENV_PREFIX) :].lower().split("__"))] = name
    return names


def _has_path(data: Any, loc: Sequence[str | int]) -> bool:
    for part in loc:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                return False
        elif not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _source(
    loc: Sequence[str | int],
    env: Mapping[str, str],
    file_data: Mapping[str, Any],
    overrides: Mapping[str, Any],
    file: Path | None,
) -> str:
    if loc and _has_path(overrides, loc[:2]):
        return "command line"
    dotted = ".".join(str(p) for p in loc if isinstance(p, str)).lower()
    for path, name in env.items():
        if dotted == path or dotted.startswith(path + ".") or path.startswith(dotted + "."):
            return f"environment {name}"
    if file is not None and _has_path(file_data, loc[:1]):
        return f"file {file}"
    return "defaults"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([ConfigIssue("(file)", "no such file", f"file {path}")]) from None
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue("(file)", exc.strerror or str(exc), f"file {path}")]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            [ConfigIssue("(file)", f"not valid TOML: {exc}", f"file {path}")]
        ) from None


@contextmanager
def _toml_file(path: Path | None) -> Iterator[None]:
    token = _TOML_FILE.set(path)
    try:
        yield
    finally:
        _TOML_FILE.reset(token)


def load_config(
    file: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    use_default_file: bool = True,
) -> Settings:
    """Validate file + environment + flags once. Raises ConfigError listing every problem.

    `environ` defaults to `os.environ` (pydantic-settings reads the process environment, so
    pass a different mapping only to check names, as tests do with monkeypatch).
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    if file is None and use_default_file:
        file = default_config_file(environ)
    file_data = _read_toml(file) if file is not None else {}
    env = _env_names(environ)
    issues: list[ConfigIssue] = []
    fields = set(Settings.model_fields)
    for path, name in sorted(env.items()):
        if path.split(".")[0] not in fields:
            issues.append(ConfigIssue(path, "unknown setting", f"environment {name}"))
    settings: Settings | None = None
    try:
        with _toml_file(file):
            settings = Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            message = message.removeprefix("Value error, ")
            issues.append(
                ConfigIssue(_key(loc), message, _source(loc, env, file_data, overrides, file))
            )
    if issues:
        raise ConfigError(issues)
    assert settings is not None
    if settings.store.path is None:
        store = settings.store.model_copy(
            update={"path": default_state_directory(environ) / DB_NAME}
        )
        settings = settings.model_copy(update={"store": store})
    return settings


# --- shared command-line options (smsgw run, keys, number...) ------------------------------


def add_config_arguments(parser: argparse.ArgumentParser, *, db: bool = True) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"TOML configuration (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG_FILE} if present)",
    )
    if db:
        parser.add_argument("--db", type=Path, metavar="PATH", help="SQLite database file")


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Flags that map onto settings: --listen, --db, --modem (repeatable), --sim."""
    overrides: dict[str, Any] = {}
    if getattr(args, "listen", None):
        overrides["server"] = {"listen": args.listen}
    if getattr(args, "db", None):
        overrides["store"] = {"path": str(args.db)}
    if getattr(args, "modem", None):
        overrides["modems"] = [{"path": p} for p in args.modem]
    if getattr(args, "sim", None) is not None:
        overrides["sim"] = {"count": args.sim}
    return overrides


def load_from_args(args: argparse.Namespace) -> Settings:
    return load_config(getattr(args, "config", None), overrides=overrides_from_args(args))


def summary(settings: Settings) -> list[str]:
    """Human summary for `smsgw config check`."""
    s = settings
    tls = "TLS on" if s.server.tls_cert else "no TLS"
    lines = [
        f"server: {s.server.listen} ({tls})",
        f"store: {s.db_path}",
        f"numbers: default region {s.numbers.default_region or '(none: + numbers only)'}, "
        f"short codes {'allowed' if s.numbers.allow_short_codes else 'refused'}",
        f"scheduler: {s.scheduler.lanes} lanes, fairness by {s.scheduler.fairness}, "
        f"{s.scheduler.retry.max_attempts} attempts, uncertain -> {s.scheduler.uncertain_policy}",
    ]
    for modem in s.modems:
        limits = ", ".join(
            f"{k}={v}" for k, v in modem.limits.model_dump().items() if v is not None
        )
        lines.append(
            f"modem: {modem.name or '(unnamed)'} {modem.path}"
            + (f" group {modem.group}" if modem.group else "")
            + (f" [{limits}]" if limits else "")
        )
    if not s.modems:
        lines.append("modems: none configured")
    if s.sim.count:
        lines.append(f"simulated modems: {s.sim.count}")
    for rule in s.routing:
        match = " ".join([*rule.prefix, *([f"carrier={rule.carrier}"] if rule.carrier else [])])
        lines.append(f"route: {match} -> {rule.group}{'' if rule.fallback else ' (strict)'}")
    lines.append(f"logging: {s.logging.level}, {s.logging.format}, redact={s.logging.redact}")
    return lines
