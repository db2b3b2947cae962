"""One-time codes, campaigns with per-row reports, triggered events and delivery reports."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.messaging import MessagingError
from gateway.messaging.campaigns import CampaignError, Window, parse_csv
from gateway.messaging.config import EventBinding, MessagingConfig, OtpConfig, TemplateConfig
from gateway.messaging.contacts import Consent
from gateway.messaging.reports import GroupBy, Row, to_csv
from gateway.store.models import Category, ClaimRequest, Lane, MessageStatus
from gateway.submit import Refused
from tests.gateway.gwhelpers import FakeClock
from tests.messaging.msgrig import MessagingRig

ANN = "+4915112345678"


async def test_otp_verifies_once_and_locks_after_the_attempt_limit(
        rig: MessagingRig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await rig.start(MessagingConfig(otp=OtpConfig(max_attempts=3)))
    code_id, expires, result = await rig.m.send_otp(to=ANN, api_key="app")
    assert not isinstance(result, Refused)
    assert result.message.lane is Lane.OTP and result.message.expires_at == expires
    code = result.message.text.split("code is ")[1][:6]
    stored = await rig.s.run_in_reader(lambda c: c.execute(
        "SELECT code_hash FROM msg_otp").fetchone()[0])
    assert code not in stored and len(stored) == 64
    wrong = "000000" if code != "000000" else "111111"
    first = await rig.m.otp.verify(code_id, wrong)
    assert (first.valid, first.attempts_left) == (False, 2)
    ok = await rig.m.otp.verify(code_id, code)
    assert (ok.valid, ok.attempts_left) == (True, 1)
    spent = await rig.m.otp.verify(code_id, code)
    assert spent.valid is False and spent.state == "spent"
    # a second code: three wrong guesses lock it, the right one then fails too
    second_id, _e, second = await rig.m.send_otp(to=ANN, api_key="app")
    assert not isinstance(second, Refused)
    right = second.message.text.split("code is ")[1][:6]
    bad = "000000" if right != "000000" else "111111"
    answers = [await rig.m.otp.verify(second_id, bad) for _ in range(3)]
    assert [a.attempts_left for a in answers] == [2, 1, 0]
    assert answers[-1].state == "locked"
    assert (await rig.m.otp.verify(second_id, right)).valid is False
    assert code not in caplog.text and right not in caplog.text


async def test_otp_expires_and_is_redacted_once_sent(rig: MessagingRig) -> None:
    await rig.start()
    code_id, _expires, result = await rig.m.send_otp(to=ANN, api_key="app", ttl_s=60)
    assert not isinstance(result, Refused)
    code = result.message.text.split("code is ")[1][:6]
    job = await rig.s.claim(ClaimRequest(modem_id="m0", lanes=tuple(Lane), pools=("",),
                                         now=rig.clock(), day="d", month="m"))
    assert job is not None
    await rig.s.part_sent(job, 1, 1)
    assert await rig.m.otp.redact_sent() == 1
    detail = await rig.s.get_message(result.message.id)
    assert detail is not None and code not in detail.message.text and "******" in \
        detail.message.text
    rig.clock.advance(61)
    late = await rig.m.otp.verify(code_id, code)
    assert (late.valid, late.state) == (False, "expired")


async def test_otp_requests_per_number_are_limited(rig: MessagingRig) -> None:
    await rig.start(MessagingConfig(otp=OtpConfig(max_per_hour=2)))
    for _ in range(2):
        await rig.m.send_otp(to=ANN, api_key="app")
    with pytest.raises(MessagingError) as caught:
        await rig.m.send_otp(to=ANN, api_key="app")
    assert caught.value.code == "rate_limited"


CSV = """number,first_name,date
+4915112340001,Ann,2025-04-03
+4915112340002,,2025-04-03
not-a-number,Carl,2025-04-03
+4915112340003,Dora,2025-04-03
+4915112340001,Ann again,2025-04-03
+4915112340004,Emil,2025-04-03
"""


async def test_campaign_reports_rows_and_queues_the_rest(rig: MessagingRig) -> None:
    await rig.start(MessagingConfig(templates=[TemplateConfig(
        name="promo", text="Hi {first_name}, visit us on {date:%d %b}!",
        category=Category.MARKETING)]))
    for n in ("+4915112340001", "+4915112340002", "+4915112340004"):
        await rig.m.contacts.update(n, consent={Category.MARKETING: Consent.GRANTED})
    await rig.m.contacts.update("+4915112340004", opted_out=True)
    template = await rig.m.template("promo")
    campaign, problems = await rig.m.campaigns.create(
        name="April", template=template, recipients=parse_csv(CSV), rate=2.0)
    assert [(p.row, p.problem) for p in problems] == [
        (2, "missing_field"), (3, "invalid_number"), (4, "no_consent"), (5, "duplicate"),
        (6, "opted_out")]
    assert (campaign.total, campaign.accepted, campaign.refused) == (6, 1, 5)
    progress = await rig.m.campaigns.progress(campaign.id)
    assert progress.counts["queued"] == 1 and progress.counts["refused"] == 5
    page = await rig.m.campaigns.problems(campaign.id)
    assert len(page) == 5


async def test_campaign_pace_window_pause_resume_cancel(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2025, 3, 10, 6, 0, tzinfo=UTC))  # 07:00 Berlin
    rig = MessagingRig(tmp_path, clock)
    await rig.start(MessagingConfig(templates=[TemplateConfig(name="note", text="Hi {name}")]))
    try:
        rows = [{"number": f"+49151123400{i:02d}", "name": f"n{i}"} for i in range(10)]
        campaign, problems = await rig.m.campaigns.create(
            name="pace", template=await rig.m.template("note"), recipients=rows, rate=0.5,
            window=Window.parse("09:00-17:00"))
        assert problems == [] and campaign.accepted == 10
        send_times = await rig.s.run_in_reader(lambda c: c.execute(
            "SELECT send_at FROM messages ORDER BY send_at").fetchall())
        first = datetime.fromtimestamp(send_times[0][0] / 1000, UTC)
        assert first == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)  # 09:00 Berlin
        gaps = {b[0] - a[0] for a, b in itertools.pairwise(send_times)}
        assert gaps == {2000}
        paused = await rig.m.campaigns.pause(campaign.id)
        assert paused.status == "paused"
        progress = await rig.m.campaigns.progress(campaign.id)
        assert progress.counts["paused"] == 10 and progress.counts["queued"] == 0
        with pytest.raises(CampaignError):
            await rig.m.campaigns.pause(campaign.id)
        resumed = await rig.m.campaigns.resume(campaign.id)
        assert resumed.status == "running"
        progress = await rig.m.campaigns.progress(campaign.id)
        assert progress.counts["queued"] == 10
        canceled = await rig.m.campaigns.cancel(campaign.id)
        assert canceled.status == "canceled"
        progress = await rig.m.campaigns.progress(campaign.id)
        assert progress.counts["canceled"] == 10
    finally:
        await rig.close()


async def test_an_event_fires_its_bound_template(rig: MessagingRig) -> None:
    await rig.start(MessagingConfig(
        templates=[TemplateConfig(
            name="callback_offer",
            text="Hi {name}, we noticed you didn't get through today. Callback? Reply YES")],
        events=[EventBinding(type="call.abandoned", template="callback_offer")]))
    event, result = await rig.m.trigger(event_type="call.abandoned", to=ANN,
                                        fields={"name": "Ann"}, api_key="crm")
    assert result is not None and not isinstance(result, Refused)
    assert result.message.text.startswith("Hi Ann, we noticed")
    assert result.message.lane is Lane.HIGH and event.message_id == result.message.id
    with pytest.raises(MessagingError):
        await rig.m.trigger(event_type="order.lost", to=ANN, fields={}, api_key="crm")
    with pytest.raises(MessagingError) as missing:
        await rig.m.trigger(event_type="call.abandoned", to=ANN, fields={}, api_key="crm")
    assert missing.value.code == "template"


async def test_delivery_report_by_category_template_and_sim(rig: MessagingRig) -> None:
    await rig.start(MessagingConfig(price_per_segment=0.05,
                                    templates=[TemplateConfig(name="t", text="Hello {x}")]))
    sent = await rig.m.send_template(to=ANN, template="t", fields={"x": "y" * 200},
                                     api_key="app")
    other = await rig.send("+4915112345679", "plain")
    assert not isinstance(sent.result, Refused) and not isinstance(other, Refused)
    from gateway.store.models import StatusReportIn

    jobs = []
    for modem in ("m0", "m1"):
        job = await rig.s.claim(ClaimRequest(modem_id=modem, lanes=tuple(Lane), pools=("",),
                                             now=rig.clock(), day="d", month="m"))
        assert job is not None
        jobs.append(job)
        for part in job.parts:
            await rig.s.part_sent(job, part.seq, part.seq)
    rig.clock.advance(4)
    for job in jobs:
        status = 0 if job.to == ANN else 0x43
        for part in job.parts:
            await rig.s.status_report(StatusReportIn(job.modem_id, part.seq, job.to, status,
                                                     rig.clock()))
    ann_sim = next(j.modem_id for j in jobs if j.to == ANN)
    await rig.receive(ANN, "thanks", modem=ann_sim)
    report = await rig.m.reports.delivery(GroupBy.TEMPLATE)
    rows = {r["key"]: r for r in report["rows"]}
    assert rows["t"]["delivered"] == 1 and rows["t"]["segments"] == 2
    assert rows["t"]["cost"] == 0.1 and rows["t"]["median_delivery_s"] == 4.0
    assert rows["t"]["replies"] == 1
    assert rows["(none)"]["failed"] == 1 and rows["(none)"]["delivery_rate"] == 0.0
    by_sim = await rig.m.reports.delivery(GroupBy.SIM)
    assert {r["key"] for r in by_sim["rows"]} == {"m0", "m1"}
    assert by_sim["total"]["messages"] == 2
    text = to_csv(GroupBy.CATEGORY, (await rig.m.reports.delivery(GroupBy.CATEGORY))["rows"])
    assert text.splitlines()[0].startswith("category,messages,sent,delivered,failed")
    assert MessageStatus.DELIVERED


def test_the_total_row_adds_up_every_figure() -> None:
    a = Row("a", messages=3, sent=2, delivered=1, failed=1, canceled=1, pending=0, segments=4,
            billable_segments=3, replies=1, opt_outs=0, failed_by_reason={"absent": 1},
            delivery_seconds=[2.0], scores=[5])
    b = Row("b", messages=2, sent=2, delivered=2, failed=0, canceled=0, pending=1, segments=2,
            billable_segments=2, replies=0, opt_outs=1, failed_by_reason={"absent": 2, "x": 1},
            delivery_seconds=[4.0, 6.0], scores=[1, 2])
    total = Row("total")
    total.add(a)
    total.add(b)
    assert total == Row("total", messages=5, sent=4, delivered=3, failed=1, canceled=1,
                        pending=1, segments=6, billable_segments=5, replies=1, opt_outs=1,
                        failed_by_reason={"absent": 3, "x": 1},
                        delivery_seconds=[2.0, 4.0, 6.0], scores=[5, 1, 2])
    assert a.failed_by_reason == {"absent": 1}  # the rows themselves are left as they were
