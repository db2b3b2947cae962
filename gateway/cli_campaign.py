"""`smsgw campaign`: bulk sends through the running gateway's HTTP API.

    smsgw campaign create FILE --template NAME [--name N] [--category marketing]
                          [--rate PER_S] [--window 09:00-18:00] [--start-at ISO] [--detach]
    smsgw campaign status ID [--watch]
    smsgw campaign list
    smsgw campaign pause|resume|cancel ID

`create` uploads the CSV (a `number` column and the template's fields), prints the per-row
report (invalid numbers, opt-outs, missing fields...) and then a progress bar until every
accepted message is delivered or failed (Ctrl-C detaches; the campaign goes on). The key
needs the send scope (`--key-file` or `$SMSGW_API_KEY`), the address comes from `--url`,
`$SMSGW_URL` or the configuration, as for `smsgw send`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, TextIO

from gateway.cli_ops import Client, CliError, _api_key, _client_arguments, _guard, _problem

POLL_S = 1.0
BAR = 30


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "campaign", help="create and follow bulk campaigns",
        description="Campaigns: a CSV of recipients and a template, sent in the bulk lane.")
    sub = parser.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)

    create = sub.add_parser("create", help="upload a CSV and start a campaign")
    create.add_argument("file", type=Path, metavar="FILE", help="CSV with a 'number' column")
    create.add_argument("--template", required=True, metavar="NAME")
    create.add_argument("--name", metavar="NAME", help="default: the file's name")
    create.add_argument("--category", choices=("transactional", "marketing"))
    create.add_argument("--rate", type=float, metavar="PER_S", help="at most this many a second")
    create.add_argument("--window", metavar="HH:MM-HH:MM",
                        help="only within these hours, in each recipient's local time")
    create.add_argument("--start-at", metavar="ISO", help="not before this time (ISO 8601)")
    create.add_argument("--detach", action="store_true", help="do not follow the progress")
    create.add_argument("--json", action="store_true", help="print the API's JSON")
    _client_arguments(create)
    create.set_defaults(func=_guard(cmd_create))

    status = sub.add_parser("status", help="a campaign's progress")
    status.add_argument("id", metavar="ID")
    status.add_argument("--watch", action="store_true", help="follow until it is done")
    status.add_argument("--json", action="store_true")
    _client_arguments(status)
    status.set_defaults(func=_guard(cmd_status))

    listing = sub.add_parser("list", help="recent campaigns")
    listing.add_argument("--json", action="store_true")
    _client_arguments(listing)
    listing.set_defaults(func=_guard(cmd_list))

    for action in ("pause", "resume", "cancel"):
        act = sub.add_parser(action, help=f"{action} a campaign")
        act.add_argument("id", metavar="ID")
        _client_arguments(act)
        act.set_defaults(func=_guard(cmd_action), action=action)


def _upload(args: argparse.Namespace, client: Client) -> Any:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc}", 2) from None
    query = {"template": args.template, "name": args.name or args.file.stem,
             "category": args.category, "rate": args.rate, "window": args.window,
             "start_at": args.start_at}
    path = "/api/v1/campaigns?" + urllib.parse.urlencode(
        {k: v for k, v in query.items() if v is not None})
    request = urllib.request.Request(client.base + path, data=data, method="POST", headers={
        "Authorization": f"Bearer {_api_key(args)}", "Content-Type": "text/csv",
        "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=max(client.timeout, 300)) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise CliError(_problem(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        raise CliError(f"cannot reach the gateway at {client.base}: "
                       f"{getattr(exc, 'reason', exc)}", 3) from None


def bar(progress: dict[str, int], accepted: int, width: int = BAR) -> str:
    done = progress.get("delivered", 0) + progress.get("failed", 0) + \
        progress.get("canceled", 0)
    sent = progress.get("sent", 0)
    total = max(accepted, 1)
    full = int(width * done / total)
    half = int(width * (done + sent) / total) - full
    return (f"[{'#' * full}{'=' * max(half, 0)}{'.' * max(width - full - half, 0)}] "
            f"{done}/{accepted} queued {progress.get('queued', 0)} sent {sent} "
            f"delivered {progress.get('delivered', 0)} failed {progress.get('failed', 0)} "
            f"replies {progress.get('replies', 0)}")


def follow(client: Client, campaign_id: str, out: TextIO | None = None,
           settle_s: float = 60.0) -> dict[str, Any]:
    """Redraw the progress bar until every message is delivered or failed (Ctrl-C: detach).
    Messages handed to the network whose delivery reports do not come are waited for at most
    `settle_s` once nothing is queued or sending."""
    out = out or sys.stderr
    tty = out.isatty()
    last: dict[str, Any] = {}
    settled_at: float | None = None
    try:
        while True:
            last = client.get(f"/api/v1/campaigns/{urllib.parse.quote(campaign_id)}")
            progress = last["progress"]
            line = bar(progress, last["accepted"])
            print(("\r" + line + "\x1b[K") if tty else line, end="" if tty else "\n",
                  file=out, flush=True)
            if last["status"] in ("canceled", "paused"):
                break
            if not progress.get("queued") and not progress.get("sending"):
                settled_at = settled_at or time.monotonic()
                if not progress.get("sent") or time.monotonic() - settled_at > settle_s:
                    break
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        print(f"\ndetached; the campaign goes on: smsgw campaign status {campaign_id}",
              file=out)
    if tty:
        print(file=out)
    return last


def cmd_create(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    answer = _upload(args, client)
    campaign, problems = answer["campaign"], answer["problems"]
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(f"campaign {campaign['id']} ({campaign['name']}): {campaign['accepted']} of "
              f"{campaign['total']} recipients queued, {campaign['refused']} refused")
        for p in problems[:50]:
            print(f"  row {p['row']}: {p['problem']}: {p['detail']}")
        if len(problems) > 50:
            print(f"  ... {len(problems) - 50} more: "
                  f"GET /api/v1/campaigns/{campaign['id']}/problems?format=csv")
    if not args.detach and campaign["accepted"]:
        follow(client, campaign["id"])
    return 0 if campaign["accepted"] else 1


def cmd_status(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    if args.watch:
        found = follow(client, args.id)
    else:
        found = client.get(f"/api/v1/campaigns/{urllib.parse.quote(args.id)}")
    if args.json:
        print(json.dumps(found, indent=2))
    elif not args.watch:
        print(f"{found['id']} {found['name']} [{found['status']}] template {found['template']}")
        print(bar(found["progress"], found["accepted"]))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    found = Client.from_args(args).get("/api/v1/campaigns")
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for c in found["campaigns"]:
        print(f"{c['id']}  {c['status']:<9} {c['accepted']:>7}/{c['total']:<7} "
              f"{c['template']:<16} {c['name']}")
    return 0


def cmd_action(args: argparse.Namespace) -> int:
    found = Client.from_args(args).call(
        "POST", f"/api/v1/campaigns/{urllib.parse.quote(args.id)}/{args.action}", {})
    print(f"{found['id']}: {found['status']}")
    return 0


__all__ = ["bar", "follow", "register"]
