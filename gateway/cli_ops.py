"""`smsgw status|modems|send|inbox|tail`: operate a running gateway through its HTTP API.

    smsgw status [--json]                      pool and queue at a glance, alerts
    smsgw modems [--json]                      one line per modem: identity, network, signal
    smsgw send --to NUMBER --text TEXT [--priority LANE] [--wait]
    smsgw inbox [--limit N] [--reveal] [--full] [--json]
    smsgw tail [--only TYPES] [--reveal] [--count N] [--json]
                                               follow events as they happen (Ctrl-C stops)

The API key comes from `--key-file FILE`, else `$SMSGW_API_KEY`; the address from `--url`, else
`$SMSGW_URL`, else the `[server] listen` address of the configuration (`--config FILE`).
`status`, `modems`, `inbox` and `tail` need a key with the read scope, `send` the send scope.

Customers' numbers are masked unless `--reveal`; message text is printed with control
characters escaped, so an SMS cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from drivers.redact import mask_number
from gateway.config import ConfigError, load_config

KEY_ENV = "SMSGW_API_KEY"
URL_ENV = "SMSGW_URL"
CLIENT_ENV = frozenset({KEY_ENV, URL_ENV})  # the client's variables, not settings
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "expired"})
REGISTRATION = {0: "not registered", 1: "home", 2: "searching", 3: "denied", 4: "unknown",
                5: "roaming", 6: "home (SMS only)", 7: "roaming (SMS only)"}
TAIL_INTERVAL_S = 1.0


class CliError(Exception):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# --- arguments ---------------------------------------------------------------------------------


def _client_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--url", metavar="URL",
                       help=f"gateway address (default: ${URL_ENV}, else [server] listen)")
    group.add_argument("--key-file", type=Path, metavar="FILE",
                       help=f"file holding the API key (default: ${KEY_ENV})")
    group.add_argument("--config", type=Path, metavar="FILE",
                       help="configuration to take the listen address from")
    group.add_argument("--cacert", type=Path, metavar="FILE",
                       help="CA certificate of a gateway with a self-signed TLS certificate")
    group.add_argument("--timeout", type=float, default=15.0, metavar="S",
                       help="seconds to wait for each answer (default 15)")


def register(subparsers: Any) -> None:
    status = subparsers.add_parser("status", help="pool and queue summary of the running gateway")
    status.add_argument("--json", action="store_true", help="print the API's JSON")
    _client_arguments(status)
    status.set_defaults(func=_guard(cmd_status))

    modems = subparsers.add_parser("modems", help="the running gateway's modems")
    modems.add_argument("--json", action="store_true", help="print the API's JSON")
    _client_arguments(modems)
    modems.set_defaults(func=_guard(cmd_modems))

    send = subparsers.add_parser("send", help="send one SMS through the running gateway")
    send.add_argument("--to", required=True, metavar="NUMBER", help="recipient (E.164)")
    send.add_argument("--text", required=True, help="message text")
    send.add_argument("--priority", choices=("otp", "high", "normal", "bulk"), default="normal")
    send.add_argument("--wait", action="store_true",
                      help="follow the message until delivered, undelivered or failed")
    send.add_argument("--json", action="store_true", help="print the API's JSON")
    _client_arguments(send)
    send.set_defaults(func=_guard(cmd_send))

    inbox = subparsers.add_parser("inbox", help="messages received by the running gateway")
    inbox.add_argument("--limit", type=int, default=20, metavar="N", help="how many (1-500)")
    inbox.add_argument("--reveal", action="store_true", help="show senders' numbers in full")
    inbox.add_argument("--full", action="store_true", help="do not shorten long texts")
    inbox.add_argument("--json", action="store_true", help="print the API's JSON")
    _client_arguments(inbox)
    inbox.set_defaults(func=_guard(cmd_inbox))

    tail = subparsers.add_parser("tail", help="follow the running gateway's events")
    tail.add_argument("--reveal", action="store_true", help="show numbers in full")
    tail.add_argument("--count", type=int, metavar="N", help="stop after N events")
    tail.add_argument("--only", metavar="TYPES",
                      help="comma separated event types or prefixes, e.g. message,modem.alert")
    tail.add_argument("--json", action="store_true", help="one JSON object per event")
    _client_arguments(tail)
    tail.set_defaults(func=_guard(cmd_tail))


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except CliError as exc:
            print(f"smsgw {args.command}: {exc}", file=sys.stderr)
            return exc.status

    return run


# --- the client ------------------------------------------------------------------------------


def _base_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url).rstrip("/")
    if os.environ.get(URL_ENV):
        return str(os.environ[URL_ENV]).rstrip("/")
    environ = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
    try:
        settings = load_config(args.config, environ=environ)
    except ConfigError as exc:
        raise CliError(f"invalid configuration (or pass --url):\n{exc}", 2) from None
    server = settings.server
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(server.host, server.host)
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if server.tls_cert else "http"
    return f"{scheme}://{host}:{server.port}"


def _api_key(args: argparse.Namespace) -> str:
    key_file: Path | None = args.key_file
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CliError(f"cannot read the key file: {exc}", 2) from None
    else:
        key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise CliError(f"no API key: pass --key-file FILE or set ${KEY_ENV}", 2)
    return key


class Client:
    def __init__(self, base: str, key: str, *, timeout: float, cacert: Path | None = None
                 ) -> None:
        self.base = base
        self._key = key
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=str(cacert)) if cacert else None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Client:
        return cls(_base_url(args), _api_key(args), timeout=args.timeout, cacert=args.cacert)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self._key}",
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout,
                                        context=self._context) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise CliError(_problem(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the gateway at {self.base}: {reason}", 3) from None
        except ValueError:
            raise CliError(f"{self.base}{path} did not answer with JSON") from None

    def get(self, path: str, **query: Any) -> Any:
        pairs = {k: v for k, v in query.items() if v is not None}
        return self.call("GET", path + (f"?{urllib.parse.urlencode(pairs)}" if pairs else ""))


def _problem(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    if exc.code == 404 and detail is None:
        return "not found (is this an smsgw gateway, and a recent one?)"
    return f"HTTP {exc.code}: {detail or exc.reason}"


# --- output ----------------------------------------------------------------------------------


def safe(text: Any, limit: int | None = None) -> str:
    """Printable: control characters (escape sequences, newlines) shown as escapes."""
    out = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                  for c in str(text))
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[safe("" if v is None else v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _dump(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _number(number: str | None, reveal: bool) -> str:
    if not number:
        return ""
    return number if reveal else mask_number(number)


def _signal(dbm: int | None) -> str:
    return "-" if dbm is None else f"{dbm} dBm"


_SPARK = "▁▂▃▄▅▆▇█"


def spark(points: Sequence[int | None], width: int = 12) -> str:
    """The sparkline's last `width` points as block characters (-113 to -51 dBm)."""
    shown = list(points)[-width:]
    out = []
    for value in shown:
        if value is None:
            out.append(" ")
        else:
            level = (min(max(value, -113), -51) + 113) * (len(_SPARK) - 1) // 62
            out.append(_SPARK[level])
    return "".join(out).rstrip() or "-"


# --- commands --------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    data = Client.from_args(args).get("/api/v1/status")
    if args.json:
        _dump(data)
        return 0
    gateway = data.get("gateway", {})
    counts = ", ".join(f"{n} {state}" for state, n in gateway.get("modems", {}).items() if n)
    sending = "can send" if gateway.get("can_send") else "CANNOT SEND"
    print(f"gateway: {gateway.get('status', '?')}, {sending} ({counts or 'no modems'})")
    queue = data.get("queue", {})
    print("queue: " + ", ".join(f"{lane} {n}" for lane, n in queue.items())
          + f" (total {sum(queue.values())})")
    traffic = data.get("traffic", {})
    print("last hour: " + ", ".join(f"{sum(traffic.get(k, []))} {k}"
                                    for k in ("sent", "delivered", "failed")))
    print()
    rows = []
    for m in data.get("modems", []):
        cap = m.get("cap")
        rows.append([
            m.get("name") or m.get("id") or m.get("path"), m.get("state"),
            m.get("operator") or "-", m.get("registration_text") or "-",
            _signal(m.get("signal_dbm")), spark(m.get("sparkline") or []),
            f"{m.get('sent_today', 0)}/{cap if cap else '-'}", m.get("queue", 0),
            safe(m.get("last_error") or "", 48),
        ])
    print(table(["modem", "state", "operator", "network", "signal", "recent", "sent/cap",
                 "queue", "last error"], rows))
    alerts = data.get("alerts", [])
    if alerts:
        print("\nalerts:")
        for alert in alerts:
            print(f"  {safe(alert['modem_id'])} {alert['kind']}: {safe(alert['detail'])}"
                  f" (since {alert['raised_at']})")
    return 0


def cmd_modems(args: argparse.Namespace) -> int:
    data = Client.from_args(args).get("/api/v1/modems")
    if args.json:
        _dump(data)
        return 0
    rows = []
    for m in data.get("modems", []):
        identity = m.get("identity") or {}
        model = " ".join(p for p in (identity.get("manufacturer"), identity.get("model")) if p)
        registration = m.get("registration")
        rows.append([
            m.get("id") or "-", m.get("state"), m.get("path"), model or "-",
            identity.get("imei") or "-", identity.get("iccid") or "-",
            m.get("operator") or "-",
            REGISTRATION.get(registration, "-") if registration is not None else "-",
            _signal(m.get("signal_dbm")),
        ])
    print(table(["id", "state", "port", "model", "imei", "iccid", "operator", "network",
                 "signal"], rows))
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    message = client.call("POST", "/api/v1/messages",
                          {"to": args.to, "text": args.text, "priority": args.priority})
    if args.json and not args.wait:
        _dump(message)
        return 0
    print(f"{message['id']} {message['status']} to {safe(message['to'])}"
          f" ({message.get('segments', 1)} part(s), {message.get('encoding', '?')})")
    if not args.wait:
        return 0
    status = message["status"]
    deadline = time.monotonic() + max(args.timeout, 60.0)
    while status not in FINAL:
        if time.monotonic() > deadline:
            raise CliError(f"still {status} after waiting; follow it with smsgw tail", 4)
        time.sleep(0.5)
        message = client.get(f"/api/v1/messages/{message['id']}")
        if message["status"] != status:
            status = message["status"]
            detail = (message.get("error") or {}).get("detail")
            print(f"{message['id']} {status}" + (f": {safe(detail)}" if detail else ""))
    if args.json:
        _dump(message)
    return 0 if status == "delivered" else 1


def cmd_inbox(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 500:
        raise CliError("--limit is 1-500", 2)
    data = Client.from_args(args).get("/api/v1/inbound", limit=args.limit)
    if args.json:
        _dump(data)
        return 0
    rows = [
        [m.get("received_at", "")[:19].replace("T", " "), m.get("modem_id"),
         _number(m.get("from"), args.reveal), safe(m.get("text", ""), None if args.full else 70)]
        for m in data.get("messages", [])
    ]
    if not rows:
        print("no messages received")
        return 0
    print(table(["received", "modem", "from", "text"], rows))
    return 0


def describe(event: dict[str, Any], reveal: bool) -> str:
    """One event as one line."""
    data = event.get("data", {})
    kind = event.get("type", "?")
    at = str(event.get("at", ""))[11:19]
    if kind == "message.status":
        line = (f"{data.get('id')} {data.get('previous') or '-'} -> {data.get('status')}"
                + (f" on {data['modem_id']}" if data.get("modem_id") else "")
                + (f" ({data['detail']})" if data.get("detail") else ""))
    elif kind == "message.inbound":
        line = (f"{data.get('id')} from {_number(data.get('from'), reveal)} on"
                f" {data.get('modem_id')}: {data.get('text', '')}")
    elif kind == "modem.state":
        line = (f"{data.get('modem_id')} {data.get('previous') or '-'} -> {data.get('state')}"
                + (f" ({data['reason']})" if data.get("reason") else ""))
    elif kind == "modem.alert":
        line = (f"{data.get('modem_id')} {data.get('kind')} {data.get('status')}:"
                f" {data.get('detail')}")
    elif kind == "modem.balance":
        amount = data.get("amount")
        line = (f"{data.get('modem_id')} balance "
                + (f"{amount} {data.get('currency') or ''}".strip() if amount is not None
                   else f"unknown ({data.get('error')})"))
    else:
        line = json.dumps(data, ensure_ascii=False)
    return safe(f"{at} {kind:<15} {line}")


def cmd_tail(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    wanted = tuple(t.strip() for t in (args.only or "").split(",") if t.strip())
    after = int(client.get("/api/v1/events", after=-1)["next"])
    shown = 0
    while args.count is None or shown < args.count:
        page = client.get("/api/v1/events", after=after, limit=500)
        if page.get("missed"):
            print(f"... {page['missed']} event(s) went by faster than we read", file=sys.stderr)
        for event in page.get("events", []):
            if wanted and not str(event.get("type", "")).startswith(wanted):
                continue
            if args.json:
                print(json.dumps(event, ensure_ascii=False))
            else:
                print(describe(event, args.reveal))
            shown += 1
            if args.count is not None and shown >= args.count:
                break
        sys.stdout.flush()
        after = int(page.get("next", after))
        if not page.get("events"):
            time.sleep(TAIL_INTERVAL_S)
    return 0


__all__ = ["Client", "describe", "register", "safe", "spark", "table"]
