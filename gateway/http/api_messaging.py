"""The messaging API: contacts and consent, templates, campaigns, conversations, rules,
triggered events, one-time codes and reports; plus the reports/inbox page of the status site.

    add_routes(app)          # after register_routes (uses its middlewares, keys and problems)

| route | scope | what |
|---|---|---|
| `GET /api/v1/contacts` | read | contacts (`opted_out`, `after`, `limit`) |
| `GET/PUT/DELETE /api/v1/contacts/{number}` | read/send/admin | fields, consent, opt-out |
| `GET /api/v1/contacts/{number}/consent` | read | the consent history (time, source) |
| `POST /api/v1/contacts/import`, `GET /api/v1/contacts/export` | admin | CSV |
| `GET /api/v1/templates`, `GET/PUT/DELETE /api/v1/templates/{name}` | read/admin | templates |
| `POST /api/v1/templates/{name}/preview`, `POST /api/v1/preview` | read | text, segments, cost |
| `POST /api/v1/templates/{name}/send` | send | one message from a template |
| `POST /api/v1/campaigns` (JSON, or `text/csv` + `?template=`) | send | per-row report |
| `GET /api/v1/campaigns`, `GET /api/v1/campaigns/{id}` | read | progress |
| `GET /api/v1/campaigns/{id}/problems` (`?format=csv`) | read | the refused rows |
| `POST /api/v1/campaigns/{id}/{pause,resume,cancel}` | send | |
| `GET /api/v1/conversations`, `GET /api/v1/conversations/{id}` | read | agent inbox, a thread |
| `POST /api/v1/conversations/{id}/{reply,assign,close,reopen}` | send | |
| `GET/POST /api/v1/rules`, `GET/PUT/DELETE /api/v1/rules/{id}` | read/admin | rules |
| `POST /api/v1/events` | send | fire the template bound to an event type |
| `GET /api/v1/messaging/events` | read | events raised and triggered (callback requests...) |
| `GET /api/v1/event-bindings`, `PUT/DELETE /api/v1/event-bindings/{type}` | read/admin | |
| `POST /api/v1/otp`, `POST /api/v1/otp/verify` | send | one-time codes |
| `GET /api/v1/reports/delivery?by=day|sim|campaign|template|category&format=csv` | read | |
| `GET /reports`, `/reports.js`, `/reports.css`; `/ui/api/messaging/...` | session | the page |

Refusals are problems: `opted-out` (Twilio 21610), `no-consent`, `frequency-capped`,
`template-error` (a missing field names it), `conflict`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.keys import Scope
from gateway.messaging import Messaging, MessagingError
from gateway.messaging.campaigns import CampaignError, Window, parse_csv
from gateway.messaging.config import RuleConfig, is_event_type
from gateway.messaging.contacts import Consent
from gateway.messaging.events import Binding
from gateway.messaging.reports import GroupBy, to_csv
from gateway.messaging.schemas import (
    AssignIn,
    BindingIn,
    CampaignIn,
    ContactIn,
    EventIn,
    OtpIn,
    OtpVerifyIn,
    PreviewIn,
    ReplyIn,
    RuleIn,
    TemplateIn,
    TemplateSendIn,
)
from gateway.messaging.templates import TemplateError, compiled, preview
from gateway.store.models import Category
from gateway.submit import Refused, SubmitResult

from . import views
from .api_messages import json_response
from .app import RUNTIME
from .auth import current_key, route
from .body import parse_json, read_body, require_json
from .context import API
from .idempotency import key_of, request_hash
from .problems import ProblemError, from_validation

PREFIX = "/api/v1"
NUMBER = r"{number:\+?[0-9][0-9 ().\-/]{0,39}}"  # never "import" or "export"
MESSAGING: web.AppKey[Messaging] = web.AppKey("smsgw_messaging", Messaging)
MAX_JSON = 64 * 1024
MAX_UPLOAD = 32 * 1024 * 1024

_REFUSALS = {
    "opted_out": ("opted-out", "to"),
    "no_consent": ("no-consent", "to"),
    "frequency_capped": ("frequency-capped", "to"),
    "invalid_number": ("invalid-number", "to"),
    "empty_text": ("empty-text", "text"),
    "too_long": ("too-long", "text"),
    "idempotency_conflict": ("idempotency-conflict", None),
}


def refusal_problem(refused: Refused) -> ProblemError:
    slug, field = _REFUSALS.get(refused.code, ("validation-error", None))
    return ProblemError(slug, refused.reason, field=field)


def _error(exc: MessagingError | CampaignError | TemplateError) -> ProblemError:
    if isinstance(exc, TemplateError):
        return ProblemError("template-error", exc.detail, field=exc.field)
    slug = {"not_found": "not-found", "template": "template-error", "conflict": "conflict",
            "rate_limited": "rate-limited", "unavailable": "unavailable",
            "invalid_number": "invalid-number"}.get(exc.code, "validation-error")
    headers = {"Retry-After": "3600"} if exc.code == "rate_limited" else None
    return ProblemError(slug, exc.detail, field=exc.field, headers=headers)


def messaging_of(request: web.Request) -> Messaging:
    return request.app[MESSAGING]


RAW: web.RequestKey[bytes] = web.RequestKey("smsgw_messaging_raw", bytes)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _raw(request: web.Request, limit: int) -> bytes:
    if RAW in request:
        return request[RAW]
    raw = await read_body(request, limit)
    request[RAW] = raw
    return raw


async def _body(request: web.Request, model: type[Any], limit: int = MAX_JSON) -> Any:
    require_json(request)
    return parse_json(model, await _raw(request, limit))


def idempotent(handler: Handler) -> Handler:
    """`Idempotency-Key` as on `/api/v1/messages`: the same key and body get the original
    answer (for 24 hours), the same key with another body is a 422."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        idem = key_of(request)
        if idem is None:
            return await handler(request)
        ctx = request.app[API]
        caller = current_key(request).name
        route = f"{request.method} {request.path}"
        digest = request_hash(route, await _raw(request, MAX_UPLOAD))
        replay = await ctx.idempotency.replay(caller, route, idem, digest)
        if replay is not None:
            return replay
        response = await handler(request)
        if isinstance(response, web.Response) and response.status < 500 \
                and isinstance(response.body, bytes):
            await ctx.idempotency.remember(caller, route, idem, digest, response)
        return response

    return run


def _query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ProblemError("validation-error", f"{name}: an integer", field=name) from None
    if not low <= value <= high:
        raise ProblemError("validation-error", f"{name}: {low}-{high}", field=name)
    return value


def _query_time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ProblemError("validation-error", f"{name}: an ISO 8601 time", field=name) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _number(m: Messaging, request: web.Request) -> str:
    value = request.match_info["number"]
    e164 = m.normalise(value)
    if e164 is None:
        raise ProblemError("invalid-number", f"{value!r} is not a number that can receive SMS",
                           field="number")
    return e164


def _sent(result: SubmitResult) -> dict[str, Any]:
    if isinstance(result, Refused):
        raise refusal_problem(result)
    return views.message(result.message)


def _csv_response(text: str, filename: str) -> web.Response:
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


# --- contacts ----------------------------------------------------------------------------------


def _contact_json(contact: Any) -> dict[str, Any]:
    return {
        "number": contact.number, "opted_out": contact.opted_out,
        "consent": {"transactional": contact.transactional.value if contact.transactional
                    else None,
                    "marketing": contact.marketing.value if contact.marketing else None},
        "language": contact.language, "time_zone": contact.time_zone,
        "fields": dict(contact.fields),
        "created_at": contact.created_at.isoformat() if contact.created_at else None,
        "updated_at": contact.updated_at.isoformat() if contact.updated_at else None,
    }


@route(Scope.READ)
async def list_contacts(request: web.Request) -> web.Response:
    m = messaging_of(request)
    opted = request.query.get("opted_out")
    contacts = await m.contacts.page(
        after=request.query.get("after"), limit=_query_int(request, "limit", 100, 1, 1000),
        opted_out=None if opted is None else opted.lower() in ("1", "true", "yes"))
    return json_response({"contacts": [_contact_json(c) for c in contacts],
                          "next": contacts[-1].number if contacts else None})


@route(Scope.READ)
async def get_contact(request: web.Request) -> web.Response:
    m = messaging_of(request)
    number = _number(m, request)
    contact = await m.contacts.get(number)
    if contact is None:
        raise ProblemError("not-found", f"no contact {number}")
    return json_response(_contact_json(contact))


@route(Scope.SEND)
@idempotent
async def put_contact(request: web.Request) -> web.Response:
    m = messaging_of(request)
    number = _number(m, request)
    body: ContactIn = await _body(request, ContactIn)
    try:
        contact = await m.contacts.update(
            number, fields=body.fields, replace=body.replace, language=body.language,
            time_zone=body.time_zone,
            consent={k: Consent(v) for k, v in (body.consent or {}).items()},
            opted_out=body.opted_out, detail=body.detail or f"api key {current_key(request).name}")
    except ValueError as exc:
        raise ProblemError("validation-error", str(exc)) from None
    return json_response(_contact_json(contact))


@route(Scope.ADMIN)
async def delete_contact(request: web.Request) -> web.Response:
    m = messaging_of(request)
    if not await m.contacts.delete(_number(m, request)):
        raise ProblemError("not-found", "no such contact")
    return web.Response(status=204)


@route(Scope.READ)
async def contact_history(request: web.Request) -> web.Response:
    m = messaging_of(request)
    number = _number(m, request)
    events = await m.contacts.history(number)
    return json_response({"number": number, "history": [
        {"category": e.category.value if e.category else None, "action": e.action,
         "source": e.source, "detail": e.detail, "at": e.at.isoformat()} for e in events]})


@route(Scope.ADMIN)
@idempotent
async def import_contacts(request: web.Request) -> web.Response:
    m = messaging_of(request)
    raw = await _raw(request, MAX_UPLOAD)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProblemError("invalid-request", "the CSV file is not UTF-8") from None
    report = await m.contacts.import_csv(text)
    return json_response({"rows": report.rows, "imported": report.imported, "problems": [
        {"row": p.row, "number": p.number, "problem": p.problem, "detail": p.detail}
        for p in report.problems]})


@route(Scope.ADMIN)
async def export_contacts(request: web.Request) -> web.Response:
    return _csv_response(await messaging_of(request).contacts.export_csv(), "contacts.csv")


# --- templates ---------------------------------------------------------------------------------


def _template_json(t: Any) -> dict[str, Any]:
    return {"name": t.name, "text": t.text, "category": t.category.value,
            "description": t.description, "source": t.source,
            "fields": list(compiled(t.text).fields)}


@route(Scope.READ)
async def list_templates(request: web.Request) -> web.Response:
    items = await messaging_of(request).templates.all()
    return json_response({"templates": [_template_json(t) for t in items]})


@route(Scope.READ)
async def get_template(request: web.Request) -> web.Response:
    m = messaging_of(request)
    try:
        return json_response(_template_json(await m.template(request.match_info["name"])))
    except MessagingError as exc:
        raise _error(exc) from None


@route(Scope.ADMIN)
@idempotent
async def put_template(request: web.Request) -> web.Response:
    body: TemplateIn = await _body(request, TemplateIn)
    try:
        saved = await messaging_of(request).templates.put(
            request.match_info["name"], body.text, body.category, body.description)
    except TemplateError as exc:
        raise _error(exc) from None
    return json_response(_template_json(saved))


@route(Scope.ADMIN)
async def delete_template(request: web.Request) -> web.Response:
    if not await messaging_of(request).templates.delete(request.match_info["name"]):
        raise ProblemError("not-found", "no such template (configured ones cannot be deleted)")
    return web.Response(status=204)


@route(Scope.READ)
@idempotent
async def preview_template(request: web.Request) -> web.Response:
    m = messaging_of(request)
    body: PreviewIn = await _body(request, PreviewIn)
    name = request.match_info.get("name")
    try:
        if name is not None:
            template = await m.template(name)
            source, category = template.text, body.category or template.category
        elif body.text is not None:
            source, category = body.text, body.category or m.config.default_category
        else:
            raise ProblemError("validation-error", "text: required without a template name",
                               field="text")
        number = m.normalise(body.to) if body.to else None
        values: dict[str, Any] = {"brand": m.config.brand}
        if number is not None:
            contact = await m.contacts.get(number)
            values.update(contact.fields if contact else {})
        values.update({k: v for k, v in body.fields.items() if v not in (None, "")})
        text = compiled(source).render(values)
    except (TemplateError, MessagingError) as exc:
        raise _error(exc) from None
    added = False
    if category is Category.MARKETING:
        contact = await m.contacts.get(number) if number else None
        text, added = m.policy.with_footer(text, contact)
    shown = preview(text, m.config.price_per_segment, m.config.currency,
                    compiled(source).fields, added)
    return json_response({"text": shown.text, "encoding": shown.encoding,
                          "segments": shown.segments, "characters": shown.characters,
                          "cost": shown.cost, "currency": shown.currency,
                          "fields": list(shown.fields), "opt_out_added": shown.footer_added,
                          "category": category.value})


@route(Scope.SEND)
@idempotent
async def send_template(request: web.Request) -> web.Response:
    m = messaging_of(request)
    body: TemplateSendIn = await _body(request, TemplateSendIn)
    key = current_key(request)
    try:
        sent = await m.send_template(to=body.to, template=request.match_info["name"],
                                     fields=body.fields, api_key=key.name, lane=body.priority,
                                     category=body.category,
                                     send_at=body.send_at.astimezone(UTC) if body.send_at
                                     else None)
    except MessagingError as exc:
        raise _error(exc) from None
    return json_response(_sent(sent.result), 202)


# --- campaigns ---------------------------------------------------------------------------------


def _problems_json(problems: list[Any]) -> list[dict[str, Any]]:
    return [p.json() for p in problems]


@route(Scope.SEND)
@idempotent
async def create_campaign(request: web.Request) -> web.Response:
    m = messaging_of(request)
    key = current_key(request)
    raw = await _raw(request, MAX_UPLOAD)
    try:
        if request.content_type in ("text/csv", "application/csv"):
            q = request.query
            name, template_name = q.get("name") or "campaign", q.get("template")
            if not template_name:
                raise ProblemError("validation-error", "template: required (query)",
                                   field="template")
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ProblemError("invalid-request", "the CSV file is not UTF-8") from None
            recipients: list[dict[str, Any]] = list(parse_csv(text))
            category = Category(q["category"]) if q.get("category") in ("transactional",
                                                                        "marketing") else None
            rate = float(q["rate"]) if q.get("rate") else None
            window = Window.parse(q["window"]) if q.get("window") else None
            start_at = _query_time(request, "start_at")
        else:
            require_json(request)
            body = parse_json(CampaignIn, raw)
            name, template_name = body.name, body.template
            recipients = [dict(r) for r in body.recipients]
            category, rate = body.category, body.rate
            window = Window.parse(body.window) if body.window else None
            start_at = body.start_at.astimezone(UTC) if body.start_at else None
        template = await m.template(template_name)
        campaign, problems = await m.campaigns.create(
            name=name, template=template, recipients=recipients, category=category, rate=rate,
            window=window, start_at=start_at, api_key=key.name)
    except ValueError as exc:
        raise ProblemError("validation-error", str(exc)) from None
    except (MessagingError, CampaignError) as exc:
        raise _error(exc) from None
    return json_response({"campaign": campaign.json(), "problems": _problems_json(problems)},
                         201, {"Location": f"{PREFIX}/campaigns/{campaign.id}"})


@route(Scope.READ)
async def list_campaigns(request: web.Request) -> web.Response:
    items = await messaging_of(request).campaigns.recent(
        _query_int(request, "limit", 100, 1, 1000))
    return json_response({"campaigns": [c.json() for c in items]})


@route(Scope.READ)
async def get_campaign(request: web.Request) -> web.Response:
    try:
        progress = await messaging_of(request).campaigns.progress(request.match_info["id"])
    except CampaignError as exc:
        raise _error(exc) from None
    return json_response(progress.json())


@route(Scope.READ)
async def campaign_problems(request: web.Request) -> web.Response:
    m = messaging_of(request)
    campaign_id = request.match_info["id"]
    if await m.campaigns.get(campaign_id) is None:
        raise ProblemError("not-found", f"no campaign {campaign_id!r}")
    problems = await m.campaigns.problems(campaign_id, limit=200_000)
    if request.query.get("format") == "csv":
        lines = ["row,number,problem,detail"] + [
            ",".join(json.dumps(str(v)) if "," in str(v) or '"' in str(v) else str(v)
                     for v in (p.row, p.number, p.problem, p.detail)) for p in problems]
        return _csv_response("\n".join(lines) + "\n", f"{campaign_id}-problems.csv")
    return json_response({"problems": _problems_json(problems)})


@route(Scope.SEND)
async def campaign_action(request: web.Request) -> web.Response:
    campaigns = messaging_of(request).campaigns
    campaign_id = request.match_info["id"]
    action = request.path.rsplit("/", 1)[-1]
    try:
        if action == "pause":
            result = await campaigns.pause(campaign_id)
        elif action == "resume":
            result = await campaigns.resume(campaign_id)
        elif action == "cancel":
            result = await campaigns.cancel(campaign_id)
        else:
            raise ProblemError("not-found", f"no action {action!r}: pause, resume or cancel")
    except CampaignError as exc:
        raise _error(exc) from None
    return json_response(result.json())


# --- conversations -----------------------------------------------------------------------------


async def _thread_json(m: Messaging, thread: Any) -> dict[str, Any]:
    messages = await m.conversations.messages(thread)
    return {**thread.json(), "messages": [x.json() for x in messages]}


@route(Scope.READ)
async def list_conversations(request: web.Request) -> web.Response:
    m = messaging_of(request)
    q = request.query
    needs = q.get("needs_agent")
    number = m.normalise(q["number"]) if q.get("number") else None
    threads = await m.conversations.inbox(
        status=q.get("status", "open") or None, assignee=q.get("assignee"),
        needs_agent=None if needs is None else needs.lower() in ("1", "true", "yes"),
        number=number, limit=_query_int(request, "limit", 100, 1, 1000))
    return json_response({"conversations": [t.json() for t in threads]})


@route(Scope.READ)
async def get_conversation(request: web.Request) -> web.Response:
    m = messaging_of(request)
    thread = await m.conversations.get(request.match_info["id"])
    if thread is None:
        raise ProblemError("not-found", "no such conversation")
    return json_response(await _thread_json(m, thread))


async def conversation_action(request: web.Request, m: Messaging, key_name: str
                              ) -> dict[str, Any]:
    thread_id, action = request.match_info["id"], request.path.rsplit("/", 1)[-1]
    if action == "reply":
        body: ReplyIn = await _body(request, ReplyIn)
        try:
            thread, result = await m.agent_reply(thread_id, body.text, body.agent or key_name,
                                                 key_name)
        except MessagingError as exc:
            raise _error(exc) from None
        return {"conversation": thread.json(), "message": _sent(result)}
    if action == "assign":
        assign: AssignIn = await _body(request, AssignIn)
        found = await m.conversations.assign(thread_id, assign.assignee)
    elif action == "close":
        found = await m.conversations.close(thread_id)
    elif action == "reopen":
        found = await m.conversations.reopen(thread_id)
    else:
        raise ProblemError("not-found", f"no action {action!r}: reply, assign, close, reopen")
    if found is None:
        raise ProblemError("not-found", "no such conversation")
    return {"conversation": found.json()}


@route(Scope.SEND)
async def post_conversation(request: web.Request) -> web.Response:
    m = messaging_of(request)
    result = await conversation_action(request, m, current_key(request).name)
    return json_response(result, 202 if "message" in result else 200)


# --- rules -------------------------------------------------------------------------------------


def _rule_spec(body: RuleIn) -> RuleConfig:
    try:
        return RuleConfig(name=body.name, priority=body.priority, match=body.match,
                          actions=body.actions)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _check_rule(request: web.Request, spec: RuleConfig) -> None:
    url = spec.actions.webhook
    if url is not None:
        from .api_messages import check_callback
        from .context import API

        check_callback(request.app[API], url, "actions.webhook")


@route(Scope.READ)
async def list_rules(request: web.Request) -> web.Response:
    rules = await messaging_of(request).rules.all()
    return json_response({"rules": [r.json() for r in rules]})


@route(Scope.ADMIN)
@idempotent
async def create_rule(request: web.Request) -> web.Response:
    body: RuleIn = await _body(request, RuleIn)
    spec = _rule_spec(body)
    _check_rule(request, spec)
    rule = await messaging_of(request).rules.create(spec, current_key(request).name,
                                                    body.enabled)
    return json_response(rule.json(), 201, {"Location": f"{PREFIX}/rules/{rule.id}"})


@route(Scope.READ)
async def get_rule(request: web.Request) -> web.Response:
    rule = await messaging_of(request).rules.get(request.match_info["id"])
    if rule is None:
        raise ProblemError("not-found", "no such rule")
    return json_response(rule.json())


@route(Scope.ADMIN)
@idempotent
async def put_rule(request: web.Request) -> web.Response:
    body: RuleIn = await _body(request, RuleIn)
    spec = _rule_spec(body)
    _check_rule(request, spec)
    rule = await messaging_of(request).rules.update(request.match_info["id"], spec,
                                                    body.enabled)
    if rule is None:
        raise ProblemError("not-found", "no such rule (configured rules cannot be changed)")
    return json_response(rule.json())


@route(Scope.ADMIN)
async def delete_rule(request: web.Request) -> web.Response:
    if not await messaging_of(request).rules.delete(request.match_info["id"]):
        raise ProblemError("not-found", "no such rule (configured rules cannot be deleted)")
    return web.Response(status=204)


# --- events ------------------------------------------------------------------------------------


@route(Scope.SEND)
@idempotent
async def post_event(request: web.Request) -> web.Response:
    m = messaging_of(request)
    body: EventIn = await _body(request, EventIn)
    try:
        event, result = await m.trigger(
            event_type=body.type, to=body.to, fields=body.fields,
            api_key=current_key(request).name,
            send_at=body.send_at.astimezone(UTC) if body.send_at else None)
    except MessagingError as exc:
        raise _error(exc) from None
    answer: dict[str, Any] = {"event": event.json(), "message": None, "refused": None}
    if isinstance(result, Refused):
        answer["refused"] = refusal_problem(result).body()
    elif result is not None:
        answer["message"] = views.message(result.message)
    return json_response(answer, 202)


@route(Scope.READ)
async def list_events(request: web.Request) -> web.Response:
    m = messaging_of(request)
    q = request.query
    number = m.normalise(q["number"]) if q.get("number") else None
    events = await m.events.find(event_type=q.get("type") or None, number=number,
                                 since=_query_time(request, "since"),
                                 limit=_query_int(request, "limit", 100, 1, 1000))
    return json_response({"events": [e.json() for e in events]})


def _binding_json(b: Binding) -> dict[str, Any]:
    return {"type": b.type, "template": b.template, "category": b.category.value,
            "priority": b.lane.value, "source": b.source}


@route(Scope.READ)
async def list_bindings(request: web.Request) -> web.Response:
    items = await messaging_of(request).events.bindings()
    return json_response({"bindings": [_binding_json(b) for b in items]})


@route(Scope.ADMIN)
@idempotent
async def put_binding(request: web.Request) -> web.Response:
    m = messaging_of(request)
    event_type = request.match_info["type"]
    if not is_event_type(event_type):
        raise ProblemError("validation-error", "an event type is dotted lower case, e.g. "
                           "order.shipped", field="type")
    body: BindingIn = await _body(request, BindingIn)
    try:
        await m.template(body.template)
        saved = await m.events.bind(Binding(event_type, body.template, body.category,
                                            body.priority, "api"),
                                    int(datetime.now(UTC).timestamp() * 1000))
    except MessagingError as exc:
        raise _error(exc) from None
    except ValueError as exc:
        raise ProblemError("conflict", str(exc)) from None
    return json_response(_binding_json(saved))


@route(Scope.ADMIN)
async def delete_binding(request: web.Request) -> web.Response:
    if not await messaging_of(request).events.unbind(request.match_info["type"]):
        raise ProblemError("not-found", "no such binding (configured ones cannot be deleted)")
    return web.Response(status=204)


# --- one-time codes ----------------------------------------------------------------------------


@route(Scope.SEND)
@idempotent
async def post_otp(request: web.Request) -> web.Response:
    m = messaging_of(request)
    body: OtpIn = await _body(request, OtpIn)
    try:
        code_id, expires, result = await m.send_otp(
            to=body.to, api_key=current_key(request).name, template=body.template,
            length=body.length, ttl_s=body.ttl)
    except MessagingError as exc:
        raise _error(exc) from None
    if isinstance(result, Refused):
        raise refusal_problem(result)
    return json_response({"id": code_id, "expires_at": expires.isoformat(),
                          "message_id": result.message.id}, 202)


@route(Scope.SEND)
@idempotent
async def verify_otp(request: web.Request) -> web.Response:
    m = messaging_of(request)
    body: OtpVerifyIn = await _body(request, OtpVerifyIn)
    from gateway.messaging.otp import OtpError

    try:
        outcome = await m.verify_otp(body.id, body.code)
    except OtpError as exc:
        raise ProblemError("not-found", exc.detail, field="id") from None
    return json_response({"valid": outcome.valid, "attempts_left": outcome.attempts_left,
                          "state": outcome.state})


# --- reports -----------------------------------------------------------------------------------


async def delivery_report(request: web.Request) -> web.Response:
    m = messaging_of(request)
    try:
        by = GroupBy(request.query.get("by", "day"))
    except ValueError:
        raise ProblemError("validation-error", "by: day, sim, campaign, template or category",
                           field="by") from None
    report = await m.reports.delivery(by, _query_time(request, "since"),
                                      _query_time(request, "until"))
    if request.query.get("format") == "csv":
        return _csv_response(to_csv(by, report["rows"]), f"delivery-by-{by.value}.csv")
    return json_response(report)


get_report = route(Scope.READ)(delivery_report)


# --- the reports page and its session routes ---------------------------------------------------

_PAGE_ASSETS = {"reports": ("reports.html", "text/html"),
                "reports.js": ("reports.js", "text/javascript"),
                "reports.css": ("reports.css", "text/css")}


@route(auth="self")
async def page_asset(request: web.Request) -> web.StreamResponse:
    from .status_page import CSP, find_web_root

    name, kind = _PAGE_ASSETS[request.match_info.get("name") or "reports"]
    root = find_web_root()
    if root is None or not (root / name).is_file():
        raise ProblemError("not-found", "the status page files (web/) are not installed")
    response = web.Response(body=(root / name).read_bytes(), content_type=kind, charset="utf-8")
    response.headers.update({"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer",
                             "X-Frame-Options": "DENY", "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff"})
    return response


async def _session(request: web.Request, *, write: bool = False) -> str:
    from .session import require_session
    from .status_page import SESSIONS

    if SESSIONS not in request.app:
        raise ProblemError("not-found", "the status page is not enabled")
    session = await require_session(request, request.app[SESSIONS], write=write)
    return session.key_name


@route(auth="self")
async def ui_report(request: web.Request) -> web.StreamResponse:
    await _session(request)
    return await delivery_report(request)


@route(auth="self")
async def ui_campaigns(request: web.Request) -> web.StreamResponse:
    await _session(request)
    m = messaging_of(request)
    items = [(await m.campaigns.progress(c.id)).json() for c in await m.campaigns.recent(20)]
    return json_response({"campaigns": items})


@route(auth="self")
async def ui_conversations(request: web.Request) -> web.StreamResponse:
    await _session(request)
    m = messaging_of(request)
    threads = await m.conversations.inbox(status=request.query.get("status", "open") or None,
                                          limit=100)
    return json_response({"conversations": [t.json() for t in threads]})


@route(auth="self")
async def ui_conversation(request: web.Request) -> web.StreamResponse:
    await _session(request)
    m = messaging_of(request)
    thread = await m.conversations.get(request.match_info["id"])
    if thread is None:
        raise ProblemError("not-found", "no such conversation")
    return json_response(await _thread_json(m, thread))


@route(auth="self")
async def ui_conversation_action(request: web.Request) -> web.StreamResponse:
    key_name = await _session(request, write=True)
    return json_response(await conversation_action(request, messaging_of(request), key_name))


def add_routes(app: web.Application, messaging: Messaging | None = None) -> None:
    """Add the messaging routes; `messaging` defaults to the runtime's (`Gateway.messaging`)."""
    if messaging is None:
        messaging = getattr(app[RUNTIME], "messaging", None)
    if messaging is None:
        return
    app[MESSAGING] = messaging
    r = app.router
    p = PREFIX
    r.add_get(f"{p}/contacts", list_contacts, allow_head=False)
    r.add_post(f"{p}/contacts/import", import_contacts)
    r.add_get(f"{p}/contacts/export", export_contacts, allow_head=False)
    r.add_get(f"{p}/contacts/{NUMBER}", get_contact, allow_head=False)
    r.add_put(f"{p}/contacts/{NUMBER}", put_contact)
    r.add_delete(f"{p}/contacts/{NUMBER}", delete_contact)
    r.add_get(f"{p}/contacts/{NUMBER}/consent", contact_history, allow_head=False)
    r.add_get(f"{p}/templates", list_templates, allow_head=False)
    r.add_post(f"{p}/preview", preview_template)
    r.add_get(f"{p}/templates/{{name}}", get_template, allow_head=False)
    r.add_put(f"{p}/templates/{{name}}", put_template)
    r.add_delete(f"{p}/templates/{{name}}", delete_template)
    r.add_post(f"{p}/templates/{{name}}/preview", preview_template)
    r.add_post(f"{p}/templates/{{name}}/send", send_template)
    r.add_post(f"{p}/campaigns", create_campaign)
    r.add_get(f"{p}/campaigns", list_campaigns, allow_head=False)
    r.add_get(f"{p}/campaigns/{{id}}", get_campaign, allow_head=False)
    r.add_get(f"{p}/campaigns/{{id}}/problems", campaign_problems, allow_head=False)
    for action in ("pause", "resume", "cancel"):
        r.add_post(f"{p}/campaigns/{{id}}/{action}", campaign_action)
    r.add_get(f"{p}/conversations", list_conversations, allow_head=False)
    r.add_get(f"{p}/conversations/{{id}}", get_conversation, allow_head=False)
    for action in ("reply", "assign", "close", "reopen"):
        r.add_post(f"{p}/conversations/{{id}}/{action}", post_conversation)
    r.add_get(f"{p}/rules", list_rules, allow_head=False)
    r.add_post(f"{p}/rules", create_rule)
    r.add_get(f"{p}/rules/{{id}}", get_rule, allow_head=False)
    r.add_put(f"{p}/rules/{{id}}", put_rule)
    r.add_delete(f"{p}/rules/{{id}}", delete_rule)
    r.add_post(f"{p}/events", post_event)
    r.add_get(f"{p}/messaging/events", list_events, allow_head=False)
    r.add_get(f"{p}/event-bindings", list_bindings, allow_head=False)
    r.add_put(f"{p}/event-bindings/{{type}}", put_binding)
    r.add_delete(f"{p}/event-bindings/{{type}}", delete_binding)
    r.add_post(f"{p}/otp", post_otp)
    r.add_post(f"{p}/otp/verify", verify_otp)
    r.add_get(f"{p}/reports/delivery", get_report, allow_head=False)
    r.add_get("/reports", page_asset, allow_head=False)
    r.add_get("/{name:reports\\.js|reports\\.css}", page_asset, allow_head=False)
    r.add_get("/ui/api/messaging/report", ui_report, allow_head=False)
    r.add_get("/ui/api/messaging/campaigns", ui_campaigns, allow_head=False)
    r.add_get("/ui/api/messaging/conversations", ui_conversations, allow_head=False)
    r.add_get("/ui/api/messaging/conversations/{id}", ui_conversation, allow_head=False)
    for action in ("reply", "assign", "close", "reopen"):
        r.add_post(f"/ui/api/messaging/conversations/{{id}}/{action}", ui_conversation_action)


__all__ = ["MESSAGING", "add_routes", "refusal_problem"]


# --- the OpenAPI description of these routes (for `gateway.http.openapi`) ----------------------


def _operations() -> tuple[Any, ...]:
    from gateway.messaging import schemas as ms

    from .openapi import Operation

    tag = "messaging"
    number = (("number", "Phone number (E.164)"),)
    name = (("name", "Template name"),)
    ident = (("id", "Id"),)
    etype = (("type", "Event type"),)
    obj, created, accepted, gone = (200, "object"), (201, "object"), (202, "object"), (204, None)
    conflict = (400, 401, 403, 404, 409, 413, 415, 422, 429)
    read, send, admin = Scope.READ, Scope.SEND, Scope.ADMIN
    ops: list[Any] = [
        Operation("get", f"{PREFIX}/contacts", "listContacts", "Contacts", read, tag, ok=obj),
        Operation("post", f"{PREFIX}/contacts/import", "importContacts",
                  "CSV import (text/csv: number, marketing, transactional, opted_out, language,"
                  " time_zone, fields...)", admin, tag, ok=obj),
        Operation("get", f"{PREFIX}/contacts/{{number}}", "getContact",
                  "A contact and its consent", read, tag, path_params=number, ok=obj),
        Operation("put", f"{PREFIX}/contacts/{{number}}", "putContact",
                  "Set fields, consent per category, opt-out", send, tag, body=ms.ContactIn,
                  path_params=number, ok=obj),
        Operation("delete", f"{PREFIX}/contacts/{{number}}", "forgetContact",
                  "Forget a contact's profile (the consent record stays)", admin, tag,
                  path_params=number, ok=gone),
        Operation("get", f"{PREFIX}/contacts/{{number}}/consent", "consentHistory",
                  "Every consent change with its time and source", read, tag,
                  path_params=number, ok=obj),
        Operation("get", f"{PREFIX}/templates", "listTemplates", "Templates", read, tag, ok=obj),
        Operation("post", f"{PREFIX}/preview", "previewText",
                  "Preview a text: rendered, encoding, segments, cost", read, tag,
                  body=ms.PreviewIn, ok=obj),
        Operation("get", f"{PREFIX}/templates/{{name}}", "getTemplate", "A template", read, tag,
                  path_params=name, ok=obj),
        Operation("put", f"{PREFIX}/templates/{{name}}", "putTemplate",
                  "Create or replace a template", admin, tag, body=ms.TemplateIn,
                  path_params=name, ok=obj, errors=conflict),
        Operation("delete", f"{PREFIX}/templates/{{name}}", "deleteTemplate",
                  "Delete a template", admin, tag, path_params=name, ok=gone),
        Operation("post", f"{PREFIX}/templates/{{name}}/preview", "previewTemplate",
                  "Rendered text, encoding, segments and cost", read, tag, body=ms.PreviewIn,
                  path_params=name, ok=obj),
        Operation("post", f"{PREFIX}/templates/{{name}}/send", "sendTemplate",
                  "Send one message from a template", send, tag, body=ms.TemplateSendIn,
                  path_params=name, ok=accepted),
        Operation("post", f"{PREFIX}/campaigns", "createCampaign",
                  "Create a campaign (JSON, or text/csv with ?template=&name=): per-row report",
                  send, tag, body=ms.CampaignIn, ok=created),
        Operation("get", f"{PREFIX}/campaigns", "listCampaigns", "Recent campaigns", read, tag,
                  ok=obj),
        Operation("get", f"{PREFIX}/campaigns/{{id}}", "getCampaign", "Campaign progress",
                  read, tag, path_params=ident, ok=obj),
        Operation("get", f"{PREFIX}/campaigns/{{id}}/problems", "campaignProblems",
                  "The refused rows (?format=csv for CSV)", read, tag, path_params=ident,
                  ok=obj),
        Operation("get", f"{PREFIX}/conversations", "listConversations",
                  "Agent inbox: open conversations, flagged first", read, tag, ok=obj),
        Operation("get", f"{PREFIX}/conversations/{{id}}", "getConversation",
                  "A conversation with its messages", read, tag, path_params=ident, ok=obj),
        Operation("post", f"{PREFIX}/conversations/{{id}}/reply", "replyConversation",
                  "Reply through the SIM the customer wrote to", send, tag, body=ms.ReplyIn,
                  path_params=ident, ok=accepted),
        Operation("post", f"{PREFIX}/conversations/{{id}}/assign", "assignConversation",
                  "Assign to an agent (null: unassign)", send, tag, body=ms.AssignIn,
                  path_params=ident, ok=obj),
        Operation("get", f"{PREFIX}/rules", "listRules", "Keyword rules", read, tag, ok=obj),
        Operation("post", f"{PREFIX}/rules", "createRule", "Add a keyword rule", admin, tag,
                  body=ms.RuleIn, ok=created),
        Operation("get", f"{PREFIX}/rules/{{id}}", "getRule", "A rule", read, tag,
                  path_params=ident, ok=obj),
        Operation("put", f"{PREFIX}/rules/{{id}}", "putRule", "Replace a rule", admin, tag,
                  body=ms.RuleIn, path_params=ident, ok=obj),
        Operation("delete", f"{PREFIX}/rules/{{id}}", "deleteRule", "Delete a rule", admin,
                  tag, path_params=ident, ok=gone),
        # GET /api/v1/events is the status page's feed (gateway/http/status_page.py); it is
        # listed here because it shares its path with POST, and `Allow` must show both.
        Operation("get", f"{PREFIX}/events", "gatewayEvents",
                  "Recent gateway events (?after=SEQ), as `smsgw tail` follows them", read,
                  "operations", ok=obj),
        Operation("post", f"{PREFIX}/events", "triggerEvent",
                  "Fire the template bound to an event type", send, tag, body=ms.EventIn,
                  ok=accepted),
        Operation("get", f"{PREFIX}/messaging/events", "listMessagingEvents",
                  "Events raised: callback requests, survey answers, opt-outs, handoffs",
                  read, tag, ok=obj),
        Operation("get", f"{PREFIX}/event-bindings", "listEventBindings",
                  "Event types and their templates", read, tag, ok=obj),
        Operation("put", f"{PREFIX}/event-bindings/{{type}}", "bindEvent",
                  "Bind an event type to a template", admin, tag, body=ms.BindingIn,
                  path_params=etype, ok=obj, errors=conflict),
        Operation("delete", f"{PREFIX}/event-bindings/{{type}}", "unbindEvent",
                  "Remove a binding", admin, tag, path_params=etype, ok=gone),
        Operation("post", f"{PREFIX}/otp", "sendOtp",
                  "Send a one-time code (only its HMAC is kept)", send, tag, body=ms.OtpIn,
                  ok=accepted),
        Operation("post", f"{PREFIX}/otp/verify", "verifyOtp",
                  "Check a one-time code: valid and attempts left", send, tag,
                  body=ms.OtpVerifyIn, ok=obj),
        Operation("get", f"{PREFIX}/reports/delivery", "deliveryReport",
                  "Delivery statistics (?by=day|sim|campaign|template|category&since=&until="
                  "&format=csv)", read, tag, ok=obj),
    ]
    for action, summary in (("pause", "Pause: unsent messages are held"),
                            ("resume", "Resume at the campaign's pace from now"),
                            ("cancel", "Cancel what is not sent")):
        ops.append(Operation("post", f"{PREFIX}/campaigns/{{id}}/{action}",
                             f"{action}Campaign", summary, send, tag, path_params=ident,
                             ok=obj, errors=(400, 401, 403, 404, 409, 429)))
    for action in ("close", "reopen"):
        ops.append(Operation("post", f"{PREFIX}/conversations/{{id}}/{action}",
                             f"{action}Conversation", f"{action.capitalize()} a conversation",
                             send, tag, path_params=ident, ok=obj,
                             errors=(400, 401, 403, 404, 429)))
    return tuple(ops)


def openapi_operations() -> tuple[Any, ...]:
    """`Operation`s for `gateway.http.openapi.OPERATIONS` (with `schemas.MODELS` as inputs)."""
    return _operations()
