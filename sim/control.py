"""JSON control API and the app engineers' web page, on loopback (default 127.0.0.1:8025).

Scripts and tests drive the simulated network through it: list modems, read what handsets got,
make a handset send, inject faults, set handset behaviours and auto-replies, reset everything.
Every request body is validated; a bad one gets a 400 with a sentence saying what is wrong.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from drivers.pdu import Encoding, PduError, decode_pdu
from sim.faults import FaultKind, FaultSpec, FaultSpecError
from sim.identity import normalize_number
from sim.latency import Latency, LatencySpecError
from sim.network import AutoReply, Behaviour, BehaviourRule, InboundError

if TYPE_CHECKING:
    from sim.modem import SimModem
    from sim.pool import SimPool

POOL: web.AppKey[SimPool] = web.AppKey("pool")
MAX_BODY = 64 * 1024


class BadRequest(ValueError):
    pass


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest("body too large")
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _modem(request: web.Request) -> SimModem:
    ident = request.match_info["id"]
    modem = request.app[POOL].net.modem_for(ident)
    if modem is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"no modem {ident!r}"}),
                               content_type="application/json")
    return modem


def _modem_json(pool: SimPool, modem: SimModem) -> dict[str, Any]:
    info = modem.info()
    info["path"] = str(pool.directory / modem.name) if pool.ptys else None
    info["device"] = pool.pty_ports[modem.index].device if pool.pty_ports else None
    info["url"] = pool.tcp_ports[modem.index].url if pool.tcp_ports else None
    info["pending_mt"] = pool.net.pending_for(modem)
    return info


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except (BadRequest, FaultSpecError, InboundError, LatencySpecError) as exc:
        return _error(400, str(exc))


# ---- modems -----------------------------------------------------------------------------------


async def list_modems(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    return _json([_modem_json(pool, m) for m in pool.modems])


async def get_modem(request: web.Request) -> web.Response:
    return _json(_modem_json(request.app[POOL], _modem(request)))


async def patch_modem(request: web.Request) -> web.Response:
    """Change a SIM's account or the radio: balance, daily_cap, price_per_part, rssi."""
    modem = _modem(request)
    body = await _body(request)
    allowed = {"balance", "daily_cap", "price_per_part", "rssi"}
    extra = set(body) - allowed
    if extra:
        raise BadRequest(f"unknown fields: {', '.join(sorted(extra))}")
    try:
        if "balance" in body:
            value = body["balance"]
            modem.sim.balance = None if value is None else Decimal(str(value))
        if "price_per_part" in body:
            modem.sim.price_per_part = Decimal(str(body["price_per_part"]))
    except InvalidOperation:
        raise BadRequest("balance and price_per_part are decimal numbers") from None
    if "daily_cap" in body:
        cap = body["daily_cap"]
        if cap is not None and (not isinstance(cap, int) or cap < 0):
            raise BadRequest("daily_cap is a non-negative integer or null")
        modem.sim.daily_cap = cap
    if "rssi" in body:
        rssi = body["rssi"]
        if not isinstance(rssi, int) or not (0 <= rssi <= 31 or rssi == 99):
            raise BadRequest("rssi is 0-31 or 99")
        modem.rssi = rssi
    return _json(_modem_json(request.app[POOL], modem))


async def add_fault(request: web.Request) -> web.Response:
    modem = _modem(request)
    spec = FaultSpec.from_json(await _body(request))
    modem.inject(spec)
    return _json({"modem": modem.name, "injected": spec.as_json(),
                  "faults": modem.faults.as_json(), "state": modem.state.value}, 201)


async def clear_faults(request: web.Request) -> web.Response:
    modem = _modem(request)
    kind = request.match_info.get("kind")
    if kind:
        try:
            modem.clear_fault(FaultKind(kind))
        except ValueError:
            raise BadRequest(f"unknown fault kind {kind!r}") from None
    else:
        modem.clear_faults()
    return _json({"modem": modem.name, "faults": modem.faults.as_json(),
                  "state": modem.state.value})


async def modem_storage(request: web.Request) -> web.Response:
    modem = _modem(request)
    out = []
    for store in modem.stores.values():
        for index, msg in store.listing(None):
            item: dict[str, Any] = {"storage": store.name, "index": index,
                                    "stat": msg.stat.text, "pdu": msg.pdu}
            try:
                pdu = decode_pdu(msg.pdu)
                item["kind"] = pdu.kind.value
                text = getattr(getattr(pdu, "user_data", None), "text", None)
                if text is not None:
                    item["text"] = text
            except PduError as exc:
                item["error"] = str(exc)
            out.append(item)
    return _json(out)


# ---- handsets ---------------------------------------------------------------------------------


async def list_handsets(request: web.Request) -> web.Response:
    net = request.app[POOL].net
    return _json([
        {"number": h.number, "operator": h.operator,
         "behaviour": net.behaviour_of(h.number).behaviour.value,
         "received": len(h.received), "sent": len(h.sent)}
        for h in net.handsets.values()
    ])


async def handset_messages(request: web.Request) -> web.Response:
    net = request.app[POOL].net
    number = normalize_number(request.match_info["number"])
    handset = net.handsets.get(number)
    return _json([m.as_json() for m in handset.received] if handset else [])


async def handset_conversation(request: web.Request) -> web.Response:
    net = request.app[POOL].net
    number = normalize_number(request.match_info["number"])
    handset = net.handsets.get(number)
    return _json(handset.conversation() if handset else [])


async def set_handset_behaviour(request: web.Request) -> web.Response:
    net = request.app[POOL].net
    number = normalize_number(request.match_info["number"])
    rule = _rule({**await _body(request), "pattern": number})
    net.add_rule(rule)
    return _json(rule.as_json(), 201)


def _rule(body: dict[str, Any]) -> BehaviourRule:
    pattern = body.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise BadRequest("pattern is a glob such as '+49151*' or '*0991'")
    try:
        behaviour = Behaviour(str(body.get("behaviour")))
    except ValueError:
        raise BadRequest("behaviour is one of " + ", ".join(b.value for b in Behaviour)) from None
    delay = body.get("delay")
    if delay is not None and (not isinstance(delay, int | float) or delay < 0):
        raise BadRequest("delay is a number of seconds")
    return BehaviourRule(pattern, behaviour, None if delay is None else float(delay))


async def list_behaviours(request: web.Request) -> web.Response:
    return _json([r.as_json() for r in request.app[POOL].net.rules])


async def add_behaviour(request: web.Request) -> web.Response:
    rule = _rule(await _body(request))
    request.app[POOL].net.add_rule(rule)
    return _json(rule.as_json(), 201)


async def reset_behaviours(request: web.Request) -> web.Response:
    from sim.network import DEFAULT_RULES

    net = request.app[POOL].net
    net.rules = list(DEFAULT_RULES)
    return _json([r.as_json() for r in net.rules])


async def list_autoreplies(request: web.Request) -> web.Response:
    return _json([a.as_json() for a in request.app[POOL].net.autoreplies])


async def add_autoreply(request: web.Request) -> web.Response:
    body = await _body(request)
    handset = body.get("handset", "*")
    match = body.get("match", ".*")
    reply = body.get("reply")
    delay = body.get("delay", 1.0)
    if not isinstance(handset, str) or not isinstance(match, str):
        raise BadRequest("handset (glob) and match (regular expression) are strings")
    if not isinstance(reply, str) or not reply:
        raise BadRequest("reply is the text the handset sends back")
    if not isinstance(delay, int | float) or delay < 0:
        raise BadRequest("delay is a number of seconds")
    import re

    try:
        re.compile(match)
    except re.error as exc:
        raise BadRequest(f"match is not a regular expression: {exc}") from None
    auto = AutoReply(normalize_number(handset) if handset[:1].isdigit() else handset, match,
                     reply, float(delay))
    request.app[POOL].net.autoreplies.append(auto)
    return _json(auto.as_json(), 201)


async def clear_autoreplies(request: web.Request) -> web.Response:
    request.app[POOL].net.autoreplies.clear()
    return _json([])


async def inbound(request: web.Request) -> web.Response:
    """A handset sends an SMS to a SIM: {"from", "to", "text"} plus part options."""
    body = await _body(request)
    if "pdu" in body:  # a raw, possibly malformed, SMS-DELIVER straight into the SIM
        to, pdu = body.get("to"), body.get("pdu")
        if not isinstance(to, str | int) or to == "" or not isinstance(pdu, str):
            raise BadRequest("a raw delivery is {\"to\": SIM or modem id, \"pdu\": hex}")
        return _json(request.app[POOL].net.send_raw_pdu(str(to), pdu), 202)
    sender, to, text = body.get("from"), body.get("to"), body.get("text")
    if not isinstance(sender, str) or not sender:
        raise BadRequest("from is the handset's number")
    if not isinstance(to, str | int) or to == "":
        raise BadRequest("to is a SIM's MSISDN or a modem id")
    if not isinstance(text, str):
        raise BadRequest("text is a string")
    encoding = body.get("encoding")
    enc: Encoding | None = None
    if encoding is not None:
        try:
            enc = Encoding(encoding)
        except ValueError:
            raise BadRequest("encoding is gsm7, ucs2 or 8bit") from None
    order = body.get("order", "in_order")
    if not (isinstance(order, str) or (isinstance(order, list)
                                       and all(isinstance(x, int) for x in order))):
        raise BadRequest("order is in_order, reverse, shuffle or a list of part numbers")
    drop = body.get("drop", [])
    if not isinstance(drop, list) or not all(isinstance(x, int) for x in drop):
        raise BadRequest("drop is a list of part numbers")
    ref = body.get("concat_ref")
    if ref is not None and (not isinstance(ref, int) or ref < 0 or ref > 65535):
        raise BadRequest("concat_ref is 0-255 (or 0-65535 with 16-bit references)")
    bits = body.get("concat_ref_bits", 8)
    if bits not in (8, 16):
        raise BadRequest("concat_ref_bits is 8 or 16")
    message_class = body.get("class")
    if message_class is not None and message_class not in (0, 1, 2, 3):
        raise BadRequest("class is 0-3")
    part_delay = body.get("part_delay", 0.0)
    if not isinstance(part_delay, int | float) or part_delay < 0:
        raise BadRequest("part_delay is a number of seconds")
    result = request.app[POOL].net.send_from_handset(
        sender, str(to), text, encoding=enc, order=order, drop=drop, concat_ref=ref,
        concat_ref_bits=bits, message_class=message_class, part_delay=float(part_delay),
    )
    return _json(result, 202)


# ---- network ----------------------------------------------------------------------------------


async def get_network(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    net = pool.net
    return _json({
        "latency": net.latency.spec,
        "delivery_delay": net.delivery_delay,
        "report_delay": net.report_delay,
        "absent_delay": net.absent_delay,
        "seed": pool.seed,
        "operators": [op.as_json() for op in net.operators],
        "rules": [r.as_json() for r in net.rules],
        "autoreplies": [a.as_json() for a in net.autoreplies],
    })


async def patch_network(request: web.Request) -> web.Response:
    net = request.app[POOL].net
    body = await _body(request)
    extra = set(body) - {"latency", "delivery_delay", "report_delay", "absent_delay"}
    if extra:
        raise BadRequest(f"unknown fields: {', '.join(sorted(extra))}")
    if "latency" in body:
        net.latency = Latency.parse(body["latency"])
    for name in ("delivery_delay", "report_delay", "absent_delay"):
        if name in body:
            value = body[name]
            if not isinstance(value, int | float) or value < 0:
                raise BadRequest(f"{name} is a number of seconds")
            setattr(net, name, float(value))
    return await get_network(request)


async def events(request: web.Request) -> web.Response:
    net = request.app[POOL].net
    try:
        limit = min(1000, int(request.query.get("limit", "200")))
    except ValueError:
        raise BadRequest("limit is an integer") from None
    items = list(net.events)[-limit:]
    return _json([{**e, "at": datetime.fromtimestamp(e["at"], UTC).isoformat()} for e in items])


async def reset(request: web.Request) -> web.Response:
    request.app[POOL].reset()
    return _json({"reset": True})


# ---- web page ---------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files("sim").joinpath("web", name).read_text(encoding="utf-8")


async def index(request: web.Request) -> web.Response:
    return web.Response(text=_asset("index.html"), content_type="text/html")


async def app_js(request: web.Request) -> web.Response:
    return web.Response(text=_asset("app.js"), content_type="application/javascript")


async def app_css(request: web.Request) -> web.Response:
    return web.Response(text=_asset("app.css"), content_type="text/css")


def make_app(pool: SimPool) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[POOL] = pool
    r = app.router
    r.add_get("/", index)
    r.add_get("/app.js", app_js)
    r.add_get("/app.css", app_css)
    r.add_get("/modems", list_modems)
    r.add_get("/modems/{id}", get_modem)
    r.add_patch("/modems/{id}", patch_modem)
    r.add_post("/modems/{id}/faults", add_fault)
    r.add_delete("/modems/{id}/faults", clear_faults)
    r.add_delete("/modems/{id}/faults/{kind}", clear_faults)
    r.add_get("/modems/{id}/storage", modem_storage)
    r.add_get("/handsets", list_handsets)
    r.add_get("/handsets/{number}/messages", handset_messages)
    r.add_get("/handsets/{number}/conversation", handset_conversation)
    r.add_put("/handsets/{number}/behaviour", set_handset_behaviour)
    r.add_get("/behaviours", list_behaviours)
    r.add_post("/behaviours", add_behaviour)
    r.add_delete("/behaviours", reset_behaviours)
    r.add_get("/autoreplies", list_autoreplies)
    r.add_post("/autoreplies", add_autoreply)
    r.add_delete("/autoreplies", clear_autoreplies)
    r.add_post("/inbound", inbound)
    r.add_get("/network", get_network)
    r.add_patch("/network", patch_network)
    r.add_get("/events", events)
    r.add_post("/reset", reset)
    return app


async def start_control(pool: SimPool, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve the control API; returns the runner (cleanup stops it) and its base URL."""
    runner = web.AppRunner(make_app(pool), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    server = site._server
    bound = port
    if server is not None:
        sockets = getattr(server, "sockets", None) or ()
        for sock in sockets:
            bound = sock.getsockname()[1]
            break
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound}"
