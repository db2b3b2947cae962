"""The status page in headless Chromium against a running gateway with four simulated modems.

One operator's session: nothing shows before logging in with an admin key; then every modem
with its operator and signal; a message sent moves the counters; a SIM pulled and a signal
fading in the simulator change their rows; an inbound SMS made of HTML is listed as text, with
its sender masked until revealed; the actions answer; a phone in dark mode gets one card per
modem. Screenshots go to tests/artifacts/web/.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from playwright.async_api import Page, expect

from tests.web.conftest import ARTIFACTS
from tests.web.webrig import StatusRig, numbers

HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> & <b>bold</b>'
SENDER = "+4917699887766"
WAIT = 15_000  # ms: health polls run every 2 s, the page refreshes every 2 s


async def sim(status: StatusRig, method: str, path: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http, http.request(
        method, status.sim_control + path, json=body
    ) as response:
        assert response.status < 300, await response.text()


async def login(page: Page, status: StatusRig) -> None:
    await page.goto(status.url + "/")
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#key", status.keys["admin"])
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()


def row(page: Page, modem: str) -> Any:
    return page.locator(f'#modems tr[data-modem="{modem}"]')


async def total(page: Page, series: str) -> int:
    return int(await page.locator(f'#traffic-totals [data-series="{series}"] .total').inner_text())


async def test_operator_session_end_to_end(status: StatusRig, browser: Any) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    # nothing without a session: the page shows only the login form, the data routes say 401
    await page.goto(status.url + "/")
    await expect(page.locator("#login")).to_be_visible()
    assert await page.locator("#app").is_hidden()
    assert "modem0" not in await page.locator("body").inner_text()
    anonymous = await page.request.get(status.url + "/ui/api/overview")
    assert anonymous.status == 401
    await page.fill("#key", status.keys["reader"])  # a read key is not enough
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-error")).to_contain_text("admin")

    await login(page, status)
    cookie = next(c for c in await context.cookies() if c["name"] == "smsgw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # every modem, with its operator and signal
    rows = page.locator("#modems tbody tr")
    await expect(rows).to_have_count(4, timeout=WAIT)
    for index in range(4):
        modem = row(page, f"modem{index}")
        await expect(modem).to_have_attribute("data-state", "ready", timeout=WAIT)
        await expect(modem.locator(".operator")).to_have_text(re.compile(r"^Sim\w+$"))
        await expect(modem.locator(".dbm")).to_have_text(re.compile(r"^-\d+ dBm$"))
        await expect(modem).to_contain_text("IMEI 35")
    await page.screenshot(path=str(ARTIFACTS / "1-pool.png"), full_page=True)

    # sending moves the counters: traffic this hour, and sent today on the modems
    sent_before = await total(page, "sent")
    for to in numbers(3, start=4200):
        await status.send(to, "status page test")

    async def sent_today() -> int:
        cells = await page.locator("#modems td.sent").all_inner_texts()
        return sum(int(text.split("/")[0]) for text in cells)

    await expect(page.locator('#traffic-totals [data-series="sent"] .total')).to_have_text(
        str(sent_before + 3), timeout=WAIT)
    await expect(page.locator('#traffic-totals [data-series="delivered"] .total')).not_to_have_text(
        "0", timeout=WAIT)
    assert await sent_today() == 3

    # faults in the simulator: modem1's signal fades, modem2's SIM is pulled
    await sim(status, "PATCH", "/modems/modem1", {"rssi": 2})  # -109 dBm
    await sim(status, "POST", "/modems/modem2/faults", {"kind": "sim_removed"})
    weak = row(page, "modem1")
    await expect(weak.locator(".dbm")).to_have_text("-109 dBm", timeout=WAIT)
    await expect(weak.locator('.alert-tag[data-alert="weak_signal"]')).to_be_visible(timeout=WAIT)
    await expect(weak.locator(".bars .on")).to_have_count(0)
    pulled = row(page, "modem2")
    await expect(pulled).not_to_have_attribute("data-state", "ready", timeout=WAIT)
    await expect(pulled.locator('.alert-tag[data-alert="sim_missing"]')).to_be_visible(
        timeout=WAIT)
    await expect(pulled.locator(".last-error")).to_contain_text(re.compile("SIM|sim"))
    await expect(page.locator('#alerts li[data-alert="weak_signal"]')).to_contain_text("modem1")
    await page.screenshot(path=str(ARTIFACTS / "2-faults.png"), full_page=True)

    # an inbound SMS made of HTML: listed as text, nothing created, sender masked until revealed
    await sim(status, "POST", "/inbound", {"from": SENDER, "to": "modem0", "text": HOSTILE})
    message = page.locator("#inbound tbody tr").first
    await expect(message.locator("td.text")).to_have_text(HOSTILE, timeout=WAIT)
    assert await page.locator("#inbound img, #inbound script, #inbound b").count() == 0
    assert await page.evaluate("window.__xss") is None
    await expect(message.locator(".from")).to_have_text("+***********66")
    assert SENDER not in await page.locator("body").inner_text()
    await message.locator("button.reveal").click()
    await expect(page.locator("#inbound tbody tr").first.locator(".from")).to_have_text(
        SENDER, timeout=WAIT)

    # actions: a balance check by USSD, and pause (or the API's answer that it cannot)
    await sim(status, "PATCH", "/modems/modem0", {"balance": "12.5"})
    await row(page, "modem0").locator('button[data-action="balance"]').click()
    await expect(page.locator("#action-result")).to_contain_text("12.50 EUR", timeout=WAIT)
    await expect(row(page, "modem0").locator(".balance")).to_contain_text("12.50", timeout=WAIT)
    await row(page, "modem3").locator('button[data-action="pause"]').click()
    if callable(getattr(status.rig.gw.pool, "pause", None)):
        await expect(row(page, "modem3").locator(".paused")).to_be_visible(timeout=WAIT)
    else:
        await expect(page.locator("#action-result")).to_contain_text("cannot pause")

    # a POST without the CSRF header is refused, even with the cookie
    forged = await page.evaluate(
        "async () => (await fetch('/ui/api/modems/modem0/balance', {method: 'POST', "
        "headers: {'Content-Type': 'application/json'}, body: '{}'})).status"
    )
    assert forged == 403
    await page.screenshot(path=str(ARTIFACTS / "3-inbound-actions.png"), full_page=True)

    # log out: the data is gone and the cookie no longer opens it
    await page.click("#logout")
    await expect(page.locator("#login")).to_be_visible()
    assert (await page.request.get(status.url + "/ui/api/overview")).status == 401
    assert errors == [] and dialogs == []
    await context.close()


async def test_phone_in_dark_mode_gets_one_card_per_modem(status: StatusRig, browser: Any
                                                         ) -> None:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
        has_touch=True, color_scheme="dark",
    )
    page = await context.new_page()
    await login(page, status)
    modem = row(page, "modem0")
    await expect(modem.locator(".operator")).to_have_text(re.compile(r"^Sim\w+$"), timeout=WAIT)
    # no sideways scrolling: the table became cards that fit the screen
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    box = await modem.bounding_box()
    assert box is not None and box["width"] <= 390
    # dark: light text on a dark background
    colours = await page.evaluate(
        "() => { const s = getComputedStyle(document.body); return [s.color, s.backgroundColor]; }"
    )
    text, background = (sum(map(int, re.findall(r"\d+", c)[:3])) for c in colours)
    assert text > 500 and background < 150, colours
    await page.screenshot(path=str(ARTIFACTS / "4-phone-dark.png"))
    await context.close()
