"""Keys, scopes and rate limits, through the real server; `smsgw keys` as an operator runs it."""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
from pathlib import Path

from gateway import cli_keys
from gateway.keys import KEY_PREFIX, Scope
from tests.api.apirig import ApiRig, eventually, numbers

PROBLEM = "urn:smsgw:problem:"


def keys_cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="smsgw")
    cli_keys.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["keys", *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = args.func(args)
    return status, out.getvalue(), err.getvalue()


async def test_every_route_but_healthz_needs_a_valid_key(api: ApiRig) -> None:
    for path in ("/api/v1/messages", "/api/v1/modems", "/readyz", "/metrics", "/openapi.json",
                 "/docs", "/api/v1/nowhere"):
        status, body, headers = await api.call("GET", path, key=None)
        assert status == 401, path
        assert body["type"] == PROBLEM + "unauthorized"
        assert "WWW-Authenticate" in headers
    status, _, _ = await api.call("GET", "/healthz", key=None)
    assert status == 200
    wrong = KEY_PREFIX + "A" * 43
    for header in (f"Bearer {wrong}", "Bearer nonsense", "Token abc", "Basic !!!",
                   "Basic " + base64.b64encode(b"admin:" + wrong.encode()).decode()):
        status, body, _ = await api.call("GET", "/api/v1/modems", key=None,
                                         headers={"Authorization": header})
        assert status == 401, header
    # Basic auth (key name + key) works too, for Twilio clients and browsers
    basic = base64.b64encode(f"reader:{api.keys['reader']}".encode()).decode()
    status, _, _ = await api.call("GET", "/api/v1/modems", key=None,
                                  headers={"Authorization": f"Basic {basic}"})
    assert status == 200
    basic = base64.b64encode(f"admin:{api.keys['reader']}".encode()).decode()  # wrong name
    status, _, _ = await api.call("GET", "/api/v1/modems", key=None,
                                  headers={"Authorization": f"Basic {basic}"})
    assert status == 401


async def test_scopes_are_enforced(api: ApiRig) -> None:
    (to,) = numbers(1, 100)
    status, body, _ = await api.call("POST", "/api/v1/messages", key="reader",
                                     json={"to": to, "text": "hi"})
    assert (status, body["type"]) == (403, PROBLEM + "forbidden")
    status, _, _ = await api.call("GET", "/api/v1/messages", key="sender")
    assert status == 403
    status, _, _ = await api.call("POST", "/api/v1/messages", key="sender",
                                  json={"to": to, "text": "hi"})
    assert status == 202
    status, _, _ = await api.call("GET", "/api/v1/webhooks", key="reader")
    assert status == 403
    status, _, _ = await api.call("POST", "/api/v1/modems/modem0/pause", key="reader")
    assert status == 403
    status, _, _ = await api.call("GET", "/api/v1/webhooks", key="admin")
    assert status == 200


async def test_rate_limit_answers_429_with_retry_after(rig: ApiRig) -> None:
    await rig.start(rate=1000.0)
    rig.make_key("slow", frozenset({Scope.READ}), rate=3.0)
    statuses = []
    retry_after = None
    for _ in range(8):
        status, body, headers = await rig.call("GET", "/api/v1/modems", key="slow")
        statuses.append(status)
        if status == 429:
            assert body["type"] == PROBLEM + "rate-limited"
            retry_after = headers["Retry-After"]
    assert statuses[:3] == [200, 200, 200]  # one second of burst
    assert 429 in statuses and retry_after is not None and int(retry_after) >= 1
    # other keys are not affected
    status, _, _ = await rig.call("GET", "/api/v1/modems", key="reader")
    assert status == 200


async def test_keys_cli_create_list_revoke(rig: ApiRig) -> None:
    await rig.start()
    db = str(rig.db)
    status, out, _ = keys_cli("create", "billing", "--scopes", "send,read", "--db", db)
    assert status == 0
    key = out.strip().splitlines()[-1]
    assert key.startswith(KEY_PREFIX) and len(key) == len(KEY_PREFIX) + 43
    stored = b"".join(p.read_bytes() for p in Path(db).parent.glob("smsgw.db*"))
    assert key.encode() not in stored and key[len(KEY_PREFIX):].encode() not in stored
    status, _, _ = await rig.call("GET", "/api/v1/modems", key=None,
                                  headers={"Authorization": f"Bearer {key}"})
    assert status == 200

    status, out, _ = keys_cli("list", "--db", db)
    assert status == 0 and "billing" in out and "read,send" in out and key not in out
    status, _, err = keys_cli("create", "billing", "--db", db)
    assert status == 2 and "exists" in err
    status, _, err = keys_cli("create", "bad name!", "--db", db)
    assert status == 2
    status, _, err = keys_cli("create", "x", "--scopes", "root", "--db", db)
    assert status == 2 and "root" in err

    status, out, _ = keys_cli("revoke", "billing", "--db", db)
    assert status == 0

    async def refused() -> bool:
        code, _, _ = await rig.call("GET", "/api/v1/modems", key=None,
                                    headers={"Authorization": f"Bearer {key}"})
        return code == 401

    await eventually(refused, within=5.0, what="revoked key refused")
    status, _, _ = keys_cli("revoke", "billing", "--db", db)
    assert status == 1
    status, out, _ = keys_cli("list", "--all", "--db", db)
    assert "revoked" in out
