"""`/docs`: the API reference as one self-contained HTML page, rendered on the server from the
same OpenAPI document (`/openapi.json`). No script, no CDN, no external font: it works on an
appliance without internet access. Every value is escaped.
"""

from __future__ import annotations

import functools
import json
import re
from html import escape
from typing import Any

from aiohttp import web

from .auth import route
from .openapi import build

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1c2330;background:#fafbfc}
main{max-width:60rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #d8dde3}
.op{background:#fff;border:1px solid #d8dde3;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:monospace}
.get{color:#1f6feb}.post{color:#1a7f37}.delete{color:#cf222e}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f3f5f7;padding:.6rem;overflow:auto;border-radius:4px}
table{border-collapse:collapse}td,th{border:1px solid #d8dde3;padding:.2rem .5rem;text-align:left}
small{color:#57606a}
"""


def _prose(text: str) -> str:
    """Escaped text with `backticks` shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _schema_text(schema: dict[str, Any], components: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    return f"<code>{escape(json.dumps(schema, separators=(',', ':')))}</code>"


def render(spec: dict[str, Any]) -> str:
    components = spec["components"]["schemas"]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>{escape(spec['info']['title'])}</title><style>{_CSS}</style></head><body>",
        f"<main><h1>{escape(spec['info']['title'])} <small>{escape(spec['info']['version'])}"
        "</small></h1>",
        f"<p>{_prose(spec['info']['description'])}</p>",
        "<p>Authenticate with <code>Authorization: Bearer KEY</code> (create keys with "
        "<code>smsgw keys create NAME --scopes send,read</code>). The machine-readable "
        "description is <a href='/openapi.json'>/openapi.json</a>.</p>",
        "<h2>Operations</h2>",
    ]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            out.append(f"<div class=op id='{escape(op['operationId'])}'>"
                       f"<span class='m {escape(method)}'>{escape(method.upper())}</span> "
                       f"<code>{escape(path)}</code> — {escape(op.get('summary', ''))}")
            if op.get("description"):
                out.append(f"<br><small>{_prose(op['description'])}</small>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>schema</th></tr>")
                for p in params:
                    out.append(f"<tr><td><code>{escape(p['name'])}</code></td>"
                               f"<td>{escape(p['in'])}</td>"
                               f"<td>{_schema_text(p.get('schema', {}), components)}</td></tr>")
                out.append("</table>")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                out.append(f"<p>Body ({escape(media)}): "
                           f"{_schema_text(content['schema'], components)}</p>")
            answers = []
            for status, response in op["responses"].items():
                content = response.get("content", {})
                shape = ", ".join(_schema_text(c.get("schema", {}), components)
                                  for c in content.values())
                answers.append(f"<code>{escape(status)}</code> {shape}")
            out.append(f"<p><small>Answers: {' · '.join(answers)}</small></p></div>")
    out.append("<h2>Problem types</h2><table><tr><th>type</th><th>status</th>"
               "<th>meaning</th></tr>")
    for p in spec["x-problem-types"]:
        out.append(f"<tr><td><code>{escape(p['type'])}</code></td><td>{p['status']}</td>"
                   f"<td>{_prose(p['description'])}</td></tr>")
    out.append("</table><h2>Webhooks</h2><p>Endpoints receive <code>message.status</code>, "
               "<code>message.inbound</code> and <code>modem.health</code> events as JSON "
               "<code>{type, timestamp, data}</code>, signed per Standard Webhooks "
               "(<code>webhook-id</code>, <code>webhook-timestamp</code>, "
               "<code>webhook-signature: v1,base64(HMAC-SHA256(secret, id.timestamp.body))"
               "</code>). A message's own <code>status_callback</code> is signed the same way "
               "with the secret <code>whsec_</code> + base64(your API key). Failed deliveries "
               "are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h; "
               "410 Gone disables an endpoint.</p><h2>Schemas</h2>")
    for name, schema in components.items():
        out.append(f"<h3 id='schema-{escape(name)}'>{escape(name)}</h3>"
                   f"<pre>{escape(json.dumps(schema, indent=2))}</pre>")
    out.append("</main></body></html>")
    return "".join(out)


@functools.cache
def page() -> bytes:
    return render(build()).encode("utf-8")


@route(flavour="docs")
async def docs(request: web.Request) -> web.Response:
    return web.Response(body=page(), content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": "default-src 'none'; "
                                 "style-src 'unsafe-inline'"})


@route()
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(build())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/docs", docs, allow_head=False)
    app.router.add_get("/openapi.json", openapi_json, allow_head=False)


__all__ = ["add_routes", "render"]
