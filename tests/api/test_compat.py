"""The Twilio- and Kannel-compatible endpoints, driven the way those clients call them: Twilio's
form POST with HTTP Basic auth (account SID, auth token), Kannel's GET with the credentials and
parameters in the query string."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from gateway.keys import Scope
from tests.api.apirig import ApiRig, Captured, Receiver, eventually, numbers


def twilio_signature_ok(auth_token: str, request: Captured) -> bool:
    """Twilio's documented algorithm: HMAC-SHA1(token, URL + sorted name+value), base64."""
    params = sorted(parse_qsl(request.body.decode(), keep_blank_values=True))
    data = request.url + "".join(k + v for k, v in params)
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(),
                               request.headers["X-Twilio-Signature"])


async def twilio_post(api: ApiRig, account: str, token: str, form: dict[str, str]
                      ) -> tuple[int, dict[str, object]]:
    assert api.session is not None
    async with api.session.post(
        f"{api.url}/2010-04-01/Accounts/{account}/Messages.json", data=form,
        headers={"Authorization": aiohttp.encode_basic_auth(account, token)},
    ) as response:
        return response.status, await response.json()


async def test_twilio_send_fetch_and_signed_status_callbacks(
    api: ApiRig, receiver: Receiver
) -> None:
    (to,) = numbers(1, 100)
    token = api.keys["sender"]
    status, body = await twilio_post(api, "sender", token, {
        "To": to, "From": "+15005550006", "Body": "Hello from Twilio code",
        "StatusCallback": receiver.url("/twilio/status?site=eu"),
    })
    assert status == 201, body
    assert body["status"] == "queued" and body["to"] == to and body["from"] == "+15005550006"
    assert body["num_segments"] == "1" and str(body["sid"]).startswith("SM")
    assert body["account_sid"] == "sender" and body["error_code"] is None
    assert str(body["date_created"]).endswith("+0000")

    calls = await eventually(
        lambda: receiver.at("/twilio/status") if any(
            ("MessageStatus", "delivered") in c.form for c in receiver.at("/twilio/status"))
        else None, what="delivered callback")
    assert [dict(c.form)["MessageStatus"] for c in calls] == ["sending", "sent", "delivered"]
    for call in calls:
        form = dict(call.form)
        assert form["MessageSid"] == body["sid"] and form["To"] == to
        assert form["From"] == "+15005550006" and form["AccountSid"] == "sender"
        assert call.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
        assert twilio_signature_ok(token, call)
        assert not twilio_signature_ok(api.keys["admin"], call)

    assert api.session is not None
    async with api.session.get(
        f"{api.url}/2010-04-01/Accounts/sender/Messages/{body['sid']}.json",
        headers={"Authorization": aiohttp.encode_basic_auth("sender", api.keys["reader"])},
    ) as response:
        assert response.status == 401  # the reader key is not the sender account's token
        error = await response.json()
        assert error["code"] == 20003
    async with api.session.get(
        f"{api.url}/2010-04-01/Accounts/reader/Messages/{body['sid']}.json",
        headers={"Authorization": aiohttp.encode_basic_auth("reader", api.keys["reader"])},
    ) as response:
        assert response.status == 404  # another account's message
    api.make_key("twilio", frozenset({Scope.SEND, Scope.READ}))
    status, sent = await twilio_post(api, "twilio", api.keys["twilio"],
                                     {"To": to, "Body": "second"})
    assert status == 201
    assert api.session is not None
    async with api.session.get(
        f"{api.url}/2010-04-01/Accounts/twilio/Messages/{sent['sid']}.json",
        headers={"Authorization": aiohttp.encode_basic_auth("twilio", api.keys["twilio"])},
    ) as response:
        fetched = await response.json()
        assert response.status == 200 and fetched["sid"] == sent["sid"]
        assert fetched["body"] == "second"


async def test_twilio_errors_have_twilio_codes(api: ApiRig) -> None:
    token = api.keys["sender"]
    (to,) = numbers(1, 200)
    cases = [
        ({"Body": "no recipient"}, 400, 21604),
        ({"To": to}, 400, 21602),
        ({"To": "+1555", "Body": "x"}, 400, 21211),
        ({"To": "+4930123456", "Body": "landline"}, 400, 21614),
        ({"To": to, "Body": "x" * 1601}, 400, 21617),
        ({"To": to, "Body": "x", "ValidityPeriod": "0"}, 400, 21623),
        ({"To": to, "Body": "x", "SendAt": "tomorrow"}, 400, 35111),
        ({"To": to, "Body": "x", "StatusCallback": "http://169.254.169.254/"}, 400, 21609),
    ]
    for form, want_status, code in cases:
        status, body = await twilio_post(api, "sender", token, form)
        assert (status, body["code"]) == (want_status, code), (form, body)
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    status, body = await twilio_post(api, "sender", api.keys["admin"], {"To": to, "Body": "x"})
    assert (status, body["code"]) == (401, 20003)
    status, body = await twilio_post(api, "admin", api.keys["admin"], {"To": to, "Body": "x"})
    assert status == 201  # the admin key is an account too

    # the recipient opts out (as a STOP reply would): Twilio's own error code, 21610
    status, _, _ = await api.call("PUT", f"/api/v1/contacts/{to}", json={"opted_out": True})
    assert status == 200
    status, body = await twilio_post(api, "sender", token, {"To": to, "Body": "promo"})
    assert (status, body["code"]) == (400, 21610)
    status, problem, _ = await api.call("POST", "/api/v1/messages", json={"to": to, "text": "x"})
    assert status == 422 and problem["type"] == "urn:smsgw:problem:opted-out"


async def test_twilio_inbound_webhook_is_a_signed_form(api: ApiRig, receiver: Receiver) -> None:
    call = await api.twilio_inbound(receiver, "/sms", "+4917655554444", "modem1", "STOP")
    form = dict(call.form)
    assert (form["From"], form["Body"]) == ("+4917655554444", "STOP")
    assert form["To"] == next(s.identity.msisdn for s in api.rig.gw.pool.statuses()
                              if s.modem_id == "modem1" and s.identity)
    assert form["MessageSid"].startswith("SM") and form["AccountSid"] == "admin"
    assert twilio_signature_ok(api.keys["admin"], call)


async def test_kannel_sendsms_get_with_dlr_url(api: ApiRig, receiver: Receiver) -> None:
    first, second = numbers(2, 300)
    assert api.session is not None
    params = {
        "username": "sender", "password": api.keys["sender"], "to": f"{first} {second}",
        "text": "Kannel says hi", "from": "Shop", "priority": "2", "dlr-mask": "9",
        "dlr-url": receiver.url("/dlr?type=%d&to=%p&id=%F&reply=%A&from=%P"),
    }
    async with api.session.get(f"{api.url}/cgi-bin/sendsms", params=params) as response:
        assert response.status == 202
        assert await response.text() == "0: Accepted for delivery"

    def reports() -> list[dict[str, str]] | None:
        found = [dict(parse_qsl(urlsplit(c.url).query)) for c in receiver.at("/dlr")]
        return found if len(found) >= 4 else None

    found = await eventually(reports, what="4 delivery reports")
    assert sorted((r["to"], r["type"]) for r in found) == sorted(
        [(first, "8"), (first, "1"), (second, "8"), (second, "1")])
    assert {r["from"] for r in found} == {"Shop"}
    assert {r["reply"] for r in found} == {"ACK/", "DELIVRD"}
    assert all(r["id"] for r in found)
    assert sorted(api.rig.received_texts(first) + api.rig.received_texts(second)) == [
        "Kannel says hi", "Kannel says hi"]


async def test_kannel_answers_like_kannel(api: ApiRig) -> None:
    (to,) = numbers(1, 400)
    assert api.session is not None

    async def get(params: dict[str, str]) -> tuple[int, str]:
        async with api.session.get(f"{api.url}/cgi-bin/sendsms",  # type: ignore[union-attr]
                                   params=params) as response:
            return response.status, await response.text()

    creds = {"user": "sender", "pass": api.keys["sender"]}
    assert await get({**creds, "to": to, "text": "later", "deferred": "60"}) == (
        202, "3: Queued for later delivery")
    assert await get({"username": "sender", "password": "wrong", "to": to, "text": "x"}) == (
        403, "Authorization failed for sendsms")
    status, text = await get({**creds, "text": "x"})
    assert status == 400 and "receiver" in text
    status, text = await get({**creds, "to": to, "text": "x", "coding": "1"})
    assert status == 400 and "8-bit" in text
    # UCS-2 text in UTF-16BE, as Kannel clients send it with coding=2
    raw = "Привет".encode("utf-16-be")
    query = "&".join([
        "username=sender", f"password={api.keys['sender']}", f"to=%2B{to[1:]}", "coding=2",
        "text=" + "".join(f"%{b:02X}" for b in raw),
    ])
    async with api.session.get(f"{api.url}/cgi-bin/sendsms?{query}") as response:
        assert response.status == 202, await response.text()
    async with api.session.post(f"{api.url}/cgi-bin/sendsms", data={
        **creds, "to": to, "text": "posted"}) as response:
        assert (response.status, await response.text()) == (202, "0: Accepted for delivery")

    async def both() -> bool:
        return {"Привет", "posted"} <= set(api.rig.received_texts(to))

    await eventually(both, what="UCS-2 and POSTed texts delivered")
