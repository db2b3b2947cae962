"""Jobs encode to exactly the parts the store tracks, with the store's concatenation reference."""

from __future__ import annotations

from drivers.pdu import Submit, decode_pdu
from gateway.encoding import encode_job, plan_text
from gateway.scheduler import Scheduler
from gateway.store import NewMessage
from tests.gateway.gwhelpers import FakeClock, modem


def submit(hex_pdu: str) -> Submit:
    """`decode_pdu` of a part `encode_job` made: an SMS-SUBMIT."""
    pdu = decode_pdu(hex_pdu)
    assert isinstance(pdu, Submit)
    return pdu


async def test_long_unicode_job_encodes_with_its_reference(scheduler: Scheduler,
                                                           clock: FakeClock) -> None:
    text = "Zdravo 👋 " * 20
    plan = plan_text(text)
    assert plan.encoding.value == "ucs2" and plan.segments >= 3
    await scheduler.submit(
        [
            NewMessage(
                to="+447911123456",
                text=text,
                encoding=plan.encoding.value,
                segments=plan.segments,
                expires_at=clock.now.replace(hour=14),
            )
        ]
    )
    job = await scheduler.next_job(modem("m1"))
    assert job is not None
    pdus = encode_job(job, now=clock.now)
    assert [p.seq for p in pdus] == list(range(1, plan.segments + 1))
    decoded = [submit(p.hex) for p in pdus]
    refs = {d.user_data.concat.ref for d in decoded if d.user_data.concat}
    assert refs == {job.concat_ref}
    assert "".join(d.user_data.text or "" for d in decoded) == text
    assert all(d.validity is not None and d.validity.minutes is not None for d in decoded)
    await scheduler.part_sent(job, 1, 1, pdu=pdus[0].hex, tpdu_length=pdus[0].tpdu_length)
    assert [p.seq for p in encode_job(job)] == [p.seq for p in job.parts]
