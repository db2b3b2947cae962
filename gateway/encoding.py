"""From text to PDUs, with the codec in `drivers.pdu`: planning at acceptance, encoding at send.

`plan_text` is what the API answers with (encoding, segments) and what the store records; a job
is encoded only when a modem is about to send it, with the concatenation reference the store
allocated for its destination, so the PDUs a worker sends always match the parts the store
tracks (the codec's split is deterministic).
"""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.pdu import EncodedPdu, Encoding, SegmentCount, count_text, encode_submit
from gateway.store.models import Job


def plan_text(text: str) -> SegmentCount:
    return count_text(text)


def validity_minutes(job: Job, now: datetime | None = None) -> int | None:
    """Relative TP-VP for what is left of the message's validity (at least 5 minutes, the
    smallest step TP-VP can say)."""
    if job.expires_at is None:
        return None
    left = (job.expires_at - (now or datetime.now(UTC))).total_seconds() / 60
    return max(5, int(left))


def encode_job(
    job: Job, *, smsc: str | None = None, now: datetime | None = None
) -> list[EncodedPdu]:
    """The PDUs of the parts this job still has to send, in order."""
    pdus = encode_submit(
        job.to,
        job.text,
        concat_ref=job.concat_ref,
        request_status_report=job.request_status_report,
        validity_minutes=validity_minutes(job, now),
        smsc=smsc,
        encoding=Encoding(job.encoding),
    )
    if len(pdus) != job.segments:
        raise ValueError(
            f"message {job.message_id} encodes to {len(pdus)} parts, {job.segments} were stored"
        )
    wanted = {part.seq for part in job.parts}
    return [pdu for pdu in pdus if pdu.seq in wanted]
