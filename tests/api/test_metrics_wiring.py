"""The worker's submit times reach `GET /metrics` (the gateway's own registry, shared by the
workers and the HTTP app)."""

from __future__ import annotations

import re

from tests.api.apirig import ApiRig, numbers

_COUNT = re.compile(r'^smsgw_modem_submit_seconds_count\{modem="(?P<modem>[^"]+)"\} (?P<n>\S+)$',
                    re.MULTILINE)


async def _submit_counts(api: ApiRig) -> dict[str, float]:
    status, text, _ = await api.call("GET", "/metrics", key="reader")
    assert status == 200, text
    return {m["modem"]: float(m["n"]) for m in _COUNT.finditer(text)}


async def test_a_send_shows_in_the_modem_submit_histogram(api: ApiRig) -> None:
    assert await _submit_counts(api) == {}  # nothing sent yet: no series
    (to,) = numbers(1, 8800)
    sent = await api.wait_status((await api.send(to, "time me"))["id"], {"delivered"})
    counts = await _submit_counts(api)
    assert counts == {sent["modem_id"]: 1.0}
    status, text, _ = await api.call("GET", "/metrics", key="reader")
    assert status == 200, text
    assert f'smsgw_modem_submit_seconds_bucket{{le="+Inf",modem="{sent["modem_id"]}"}} 1.0' \
        in text
