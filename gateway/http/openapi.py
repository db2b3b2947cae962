"""`/openapi.json`: the OpenAPI 3.1 description, generated from the pydantic models.

Operations are declared here as data (method, path, scope, body, query, answers); the schemas
come from `schemas.py` through pydantic's JSON Schema generator, so the document cannot drift
from what the handlers validate. Every error answer is declared with the problem schema, and
the docs page (`docs.py`) renders this same document.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from gateway.keys import Scope
from gateway.messaging import schemas as messaging_schemas

from . import api_messaging
from . import schemas as s
from .problems import CONTENT_TYPE as PROBLEM
from .problems import PROBLEMS

VERSION = "1.0.0"


class TwilioMessageForm(BaseModel):
    model_config = ConfigDict(extra="allow")

    To: str = Field(description="Recipient (E.164)")
    Body: str = Field(max_length=1600)
    From: str | None = Field(default=None, description="Echoed back; the gateway picks the SIM")
    StatusCallback: str | None = None
    ValidityPeriod: int | None = Field(default=None, ge=1, le=36000)
    SendAt: str | None = Field(default=None, description="ISO 8601 with a time zone")
    ScheduleType: Literal["fixed"] | None = None


class TwilioStatusForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Status: Literal["canceled"]


class TwilioMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_sid: str
    api_version: str
    body: str
    date_created: str | None
    date_sent: str | None
    date_updated: str | None
    direction: str
    error_code: int | None
    error_message: str | None
    from_: str | None = Field(alias="from")
    messaging_service_sid: str | None
    num_media: str
    num_segments: str
    price: str | None
    price_unit: str | None
    sid: str
    status: str
    subresource_uris: dict[str, str]
    to: str
    uri: str


class TwilioError(BaseModel):
    code: int
    message: str
    more_info: str
    status: int


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    op_id: str
    summary: str
    scope: Scope | None
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: tuple[tuple[str, str], ...] = ()
    ok: tuple[int, type[BaseModel] | str | None] = (200, None)
    errors: tuple[int, ...] = (400, 401, 403, 404, 413, 415, 422, 429)
    form: bool = False
    extra_ok: tuple[int, ...] = field(default=())


_ID = (("id", "Message id"),)
OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/api/v1/messages", "sendMessage", "Send one message", Scope.SEND,
              "messages", body=s.MessageIn, ok=(202, s.AcceptedOut)),
    Operation("post", "/api/v1/messages/batch", "sendBatch",
              "Send up to 10,000 messages; each is accepted or refused on its own", Scope.SEND,
              "messages", body=s.BatchRequest, ok=(202, s.BatchOut)),
    Operation("get", "/api/v1/messages", "listMessages", "List messages, newest first",
              Scope.READ, "messages", query=s.MessageListQuery, ok=(200, s.MessagePageOut)),
    Operation("get", "/api/v1/messages/{id}", "getMessage",
              "A message with its parts (modem, TP-MR) and status history", Scope.READ,
              "messages", path_params=_ID, ok=(200, s.MessageDetailOut)),
    Operation("delete", "/api/v1/messages/{id}", "cancelMessage",
              "Cancel a message that is still queued or scheduled", Scope.SEND, "messages",
              path_params=_ID, ok=(200, s.MessageOut),
              errors=(400, 401, 403, 404, 409, 429)),
    Operation("get", "/api/v1/inbound", "listInbound", "Received messages, newest first",
              Scope.READ, "inbound", query=s.InboundListQuery, ok=(200, s.InboundPageOut)),
    Operation("get", "/api/v1/inbound/{id}", "getInbound", "One received message", Scope.READ,
              "inbound", path_params=(("id", "Inbound message id"),), ok=(200, s.InboundOut)),
    Operation("get", "/api/v1/modems", "listModems", "Every modem with its state and health",
              Scope.READ, "modems", ok=(200, s.ModemListOut)),
    Operation("get", "/api/v1/modems/{id}", "getModem", "One modem", Scope.READ, "modems",
              path_params=(("id", "Modem id"),), ok=(200, s.ModemOut)),
    Operation("post", "/api/v1/modems/{id}/{action}", "modemAction",
              "Pause, resume or reset a modem", Scope.ADMIN, "modems",
              path_params=(("id", "Modem id"), ("action", "pause, resume or reset")),
              ok=(202, s.ModemActionOut), errors=(400, 401, 403, 404, 429, 501)),
    Operation("get", "/api/v1/numbers/{number}", "lookupNumber",
              "Offline HLR-style look-up of a number", Scope.READ, "numbers",
              path_params=(("number", "Phone number"),), ok=(200, s.NumberOut)),
    Operation("post", "/api/v1/webhooks", "createWebhook",
              "Register a webhook endpoint; the signing secret is shown once", Scope.ADMIN,
              "webhooks", body=s.WebhookIn, ok=(201, s.WebhookCreatedOut)),
    Operation("get", "/api/v1/webhooks", "listWebhooks", "Webhook endpoints", Scope.ADMIN,
              "webhooks", ok=(200, s.WebhookListOut)),
    Operation("get", "/api/v1/webhooks/{id}", "getWebhook", "One webhook endpoint",
              Scope.ADMIN, "webhooks", path_params=(("id", "Webhook id"),),
              ok=(200, s.WebhookOut)),
    Operation("get", "/api/v1/webhooks/{id}/deliveries", "webhookDeliveries",
              "Recent deliveries to an endpoint", Scope.ADMIN, "webhooks",
              path_params=(("id", "Webhook id"),), ok=(200, s.DeliveryListOut)),
    Operation("delete", "/api/v1/webhooks/{id}", "deleteWebhook", "Delete a webhook endpoint",
              Scope.ADMIN, "webhooks", path_params=(("id", "Webhook id"),), ok=(204, None)),
    Operation("get", "/readyz", "readyz", "Ready to send: store open, a modem ready", None,
              "operations", ok=(200, s.ReadyOut), extra_ok=(503,), errors=(401, 429)),
    Operation("get", "/metrics", "metrics", "Prometheus metrics", Scope.READ, "operations",
              ok=(200, "text/plain"), errors=(401, 403, 429)),
    Operation("get", "/healthz", "healthz", "Liveness (no authentication)", None,
              "operations", ok=(200, "object"), extra_ok=(503,), errors=()),
    Operation("post", "/2010-04-01/Accounts/{account}/Messages.json", "twilioCreateMessage",
              "Twilio-compatible send (form, HTTP Basic: key name / key)", Scope.SEND, "compat",
              body=TwilioMessageForm, form=True,
              path_params=(("account", "Account SID = API key name"),),
              ok=(201, TwilioMessage), errors=(400, 401, 403, 404, 413, 429)),
    Operation("get", "/2010-04-01/Accounts/{account}/Messages/{sid}.json", "twilioFetchMessage",
              "Twilio-compatible message fetch", Scope.READ, "compat",
              path_params=(("account", "Account SID = API key name"), ("sid", "SM + id")),
              ok=(200, TwilioMessage), errors=(400, 401, 403, 404, 429)),
    Operation("post", "/2010-04-01/Accounts/{account}/Messages/{sid}.json",
              "twilioCancelMessage", "Twilio-compatible cancel of a scheduled message",
              Scope.SEND, "compat", body=TwilioStatusForm, form=True,
              path_params=(("account", "Account SID = API key name"), ("sid", "SM + id")),
              ok=(200, TwilioMessage), errors=(400, 401, 403, 404, 413, 429)),
)

# The messaging routes (gateway/http/api_messaging.py) describe themselves.
OPERATIONS = (*OPERATIONS, *api_messaging.openapi_operations())

_MODELS: tuple[type[BaseModel], ...] = (
    *messaging_schemas.MODELS,
    s.MessageIn, s.BatchRequest, s.AcceptedOut, s.BatchOut, s.MessageOut, s.MessageDetailOut,
    s.MessagePageOut, s.InboundOut, s.InboundPageOut, s.ModemOut, s.ModemListOut,
    s.ModemActionOut, s.NumberOut, s.WebhookIn, s.WebhookOut, s.WebhookCreatedOut,
    s.WebhookListOut, s.DeliveryListOut, s.ProblemOut, s.ReadyOut, TwilioMessageForm,
    TwilioMessage, TwilioError, TwilioStatusForm, s.MessageListQuery, s.InboundListQuery,
)
_INPUTS = frozenset({*messaging_schemas.MODELS, s.MessageIn, s.BatchRequest, s.WebhookIn,
                     TwilioMessageForm, TwilioStatusForm, s.MessageListQuery,
                     s.InboundListQuery})


def _ref(model: type[BaseModel], names: dict[tuple[type[BaseModel], str], dict[str, Any]],
         mode: str) -> dict[str, Any]:
    return names[(model, mode)]


def _parameters(op: Operation, names: dict[tuple[type[BaseModel], str], dict[str, Any]],
                components: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "description": text,
         "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
        for name, text in op.path_params
    ]
    if op.query is not None:
        ref = _ref(op.query, names, "validation")["$ref"].rsplit("/", 1)[-1]
        schema = components[ref]
        for name, prop in schema.get("properties", {}).items():
            clean = {k: v for k, v in prop.items() if k != "title"}
            params.append({"name": name, "in": "query", "required": False, "schema": clean})
    return params


def _error_content(op: Operation, ref: dict[str, Any], twilio: dict[str, Any]) -> dict[str, Any]:
    if op.tag == "compat":
        return {"application/json": {"schema": twilio}}
    return {PROBLEM: {"schema": ref}}


# follow-up calls a client (and schemathesis' stateful phase) can make with an answer's id
_LINKS = {
    "sendMessage": (("GetMessage", "getMessage"), ("CancelMessage", "cancelMessage")),
    "createWebhook": (("GetWebhook", "getWebhook"), ("WebhookDeliveries", "webhookDeliveries"),
                      ("DeleteWebhook", "deleteWebhook")),
}
# bounded so a generated GET stays under the server's 8 KiB request line
_KANNEL_LENGTHS = {"text": 200, "dlr-url": 100, "password": 60, "to": 40}


@functools.cache
def build() -> dict[str, Any]:
    refs, top = models_json_schema(
        [(m, "validation" if m in _INPUTS else "serialization") for m in _MODELS],
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = dict(top.get("$defs", {}))
    names: dict[tuple[type[BaseModel], str], dict[str, Any]] = {}
    for (model, mode), ref in refs.items():
        if isinstance(model, type) and issubclass(model, BaseModel):
            names[(model, mode)] = dict(ref)
    problem = _ref(s.ProblemOut, names, "serialization")
    twilio_error = _ref(TwilioError, names, "serialization")
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "operationId": op.op_id,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {},
        }
        if op.scope is not None:
            entry["description"] = f"Needs an API key with the `{op.scope.value}` scope."
        if op.path == "/healthz":
            entry["security"] = []
        params = _parameters(op, names, components)
        if params:
            entry["parameters"] = params
        if op.body is not None:
            schema = _ref(op.body, names, "validation")
            media = "application/x-www-form-urlencoded" if op.form else "application/json"
            entry["requestBody"] = {"required": True, "content": {media: {"schema": schema}}}
            if not op.form:
                entry.setdefault("parameters", []).append({
                    "name": "Idempotency-Key", "in": "header", "required": False,
                    "description": "Same key and body: the original answer; other body: 422",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                               "pattern": "^[!-~]+$"},
                })
        status, answer = op.ok
        response: dict[str, Any] = {"description": "OK"}
        if isinstance(answer, type):
            response["content"] = {"application/json": {
                "schema": _ref(answer, names, "serialization")}}
        elif answer == "text/plain":
            response["content"] = {"text/plain": {"schema": {"type": "string"}}}
        elif answer == "object":
            response["content"] = {"application/json": {"schema": {"type": "object"}}}
        if op.op_id in _LINKS:
            response["links"] = {
                name: {"operationId": target, "parameters": {"id": "$response.body#/id"}}
                for name, target in _LINKS[op.op_id]
            }
        entry["responses"][str(status)] = response
        for extra in op.extra_ok:
            entry["responses"][str(extra)] = dict(response, description="Not ready")
        for code in (*op.errors, 405):
            entry["responses"][str(code)] = {
                "description": _describe(code),
                "content": _error_content(op, problem, twilio_error),
            }
        paths.setdefault(op.path, {})[op.method] = entry
    kannel_params = [
        {"name": name, "in": "query",
         "required": name in ("username", "password", "to", "text"),
         "schema": {"type": "string", "maxLength": _KANNEL_LENGTHS.get(name, 20)}}
        for name in ("username", "password", "to", "text", "from", "coding", "charset",
                     "priority", "validity", "deferred", "dlr-mask", "dlr-url")
    ]
    kannel_answers = {
        str(code): {"description": _describe(code),
                    "content": {"text/plain": {"schema": {"type": "string"}}}}
        for code in (202, 400, 403, 405, 413, 503)
    }
    paths["/cgi-bin/sendsms"] = {
        method: {
            "operationId": f"kannelSendsms{method.title()}",
            "summary": f"Kannel-compatible send ({method.upper()}, credentials in the query)",
            "tags": ["compat"],
            "security": [],
            "parameters": kannel_params,
            "responses": kannel_answers,
        }
        for method in ("get", "post")
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smsgw HTTP API",
            "version": VERSION,
            "description": "Send and receive SMS through the gateway's modems. Errors are RFC "
            "9457 problem details (`application/problem+json`) with a stable `type`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"basicAuth": []}],
        "tags": [{"name": t} for t in ("messages", "inbound", "modems", "numbers", "webhooks",
                                       "messaging", "operations", "compat")],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "Authorization: Bearer smsgw_live_..."},
                "basicAuth": {"type": "http", "scheme": "basic",
                              "description": "user = key name, password = key"},
            },
        },
        "x-problem-types": [
            {"type": p.uri, "status": p.status, "title": p.title, "description": p.description}
            for p in PROBLEMS.values()
        ],
    }


_STATUS_TEXT = {
    202: "Accepted", 400: "Bad request", 401: "No or unknown API key",
    403: "Missing scope", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
    413: "Body too large", 415: "Not JSON", 422: "Invalid input", 429: "Rate limited",
    501: "Not implemented", 503: "Unavailable",
}


def _describe(code: int) -> str:
    return _STATUS_TEXT.get(code, str(code))


__all__ = ["OPERATIONS", "Operation", "build"]
