"""Twilio's own Python helper library (twilio-python) as the client, configured only with the
gateway's address, as an app switching from Twilio would be: it must send, fetch, read its
error codes, and its own `RequestValidator` must accept the gateway's signed callbacks.

This is the independent check of the compatibility layer: `test_compat.py` speaks the wire
format by hand; here the library Twilio ships parses every answer into its own models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from gateway.keys import Scope
from tests.api.apirig import ApiRig, Receiver, eventually, numbers

# twilio-python's aiohttp client still uses aiohttp's deprecated BasicAuth: its concern, not ours
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio")


@pytest.fixture
async def http() -> AsyncIterator[AsyncTwilioHttpClient]:
    client = AsyncTwilioHttpClient()
    try:
        yield client
    finally:
        await client.close()


def twilio(api: ApiRig, http: AsyncTwilioHttpClient, account: str, token: str) -> Client:
    client = Client(account, token, http_client=http)
    client.api.base_url = api.url  # the one change an app makes: where "api.twilio.com" is
    return client


async def test_send_fetch_and_callbacks_through_twilio_python(
    api: ApiRig, receiver: Receiver, http: AsyncTwilioHttpClient
) -> None:
    (to,) = numbers(1, 500)
    token = api.make_key("app", frozenset({Scope.SEND, Scope.READ}))  # an app sends and reads
    client = twilio(api, http, "app", token)
    message = await client.messages.create_async(
        to=to, from_="+15005550006", body="Your table is ready",
        status_callback=receiver.url("/twilio/status?site=eu"),
    )
    assert message.sid is not None and message.sid.startswith("SM")
    assert (message.status, message.to, message.from_) == ("queued", to, "+15005550006")
    assert message.num_segments == "1" and message.direction == "outbound-api"
    assert message.date_created is not None and message.date_created.tzinfo is not None

    async def delivered() -> bool:
        fetched = await client.messages(message.sid).fetch_async()
        return bool(fetched.status == "delivered")

    await eventually(delivered, what="delivered, as fetched by twilio-python")
    calls = await eventually(
        lambda: receiver.at("/twilio/status") if any(
            ("MessageStatus", "delivered") in c.form for c in receiver.at("/twilio/status"))
        else None, what="the delivered callback")
    validator = RequestValidator(token)
    for call in calls:
        assert validator.validate(call.url, dict(call.form), call.headers["X-Twilio-Signature"])
        assert not RequestValidator(api.keys["admin"]).validate(
            call.url, dict(call.form), call.headers["X-Twilio-Signature"])
    assert [dict(c.form)["MessageStatus"] for c in calls] == ["sending", "sent", "delivered"]


async def test_twilio_python_reads_the_gateways_errors(
    api: ApiRig, http: AsyncTwilioHttpClient
) -> None:
    (to,) = numbers(1, 600)
    client = twilio(api, http, "sender", api.keys["sender"])
    with pytest.raises(TwilioRestException) as bad_number:
        await client.messages.create_async(to="+1555", from_="+15005550006", body="x")
    assert (bad_number.value.status, bad_number.value.code) == (400, 21211)

    status, _, _ = await api.call("PUT", f"/api/v1/contacts/{to}", json={"opted_out": True})
    assert status == 200
    with pytest.raises(TwilioRestException) as opted_out:
        await client.messages.create_async(to=to, from_="+15005550006", body="promo")
    assert (opted_out.value.status, opted_out.value.code) == (400, 21610)

    wrong = twilio(api, http, "sender", api.keys["reader"])
    with pytest.raises(TwilioRestException) as denied:
        await wrong.messages.create_async(to=to, from_="+15005550006", body="x")
    assert (denied.value.status, denied.value.code) == (401, 20003)


async def test_twilio_python_validates_the_inbound_webhook(
    api: ApiRig, receiver: Receiver
) -> None:
    call = await api.twilio_inbound(receiver, "/sms?tenant=7", "+4917655550001", "modem1",
                                    "Can I move my booking?")
    form = dict(call.form)
    assert form["Body"] == "Can I move my booking?" and form["From"] == "+4917655550001"
    assert RequestValidator(api.keys["admin"]).validate(
        call.url, form, call.headers["X-Twilio-Signature"])
