"""The store's vocabulary: frozen records that every layer above the store passes around.

These are plain data with no SQL in them, so the HTTP API, the scheduler and a future PostgreSQL
store all speak the same types. Times are timezone-aware UTC datetimes; the SQLite store keeps
them as integer milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.record import record


class MessageStatus(StrEnum):
    """Twilio's status words plus `expired` (api-conventions.md)."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        """No further transition will happen (`sent` still waits for a status report)."""
        return self in _FINAL

    @property
    def cancelable(self) -> bool:
        return self in (MessageStatus.QUEUED, MessageStatus.SCHEDULED)


_FINAL = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.CANCELED,
        MessageStatus.EXPIRED,
    }
)


class Lane(StrEnum):
    """Priority lanes, highest first. `rank` is what the store indexes (0 = served first)."""

    OTP = "otp"
    HIGH = "high"
    NORMAL = "normal"
    BULK = "bulk"

    @property
    def rank(self) -> int:
        return _LANE_RANK[self]

    @classmethod
    def from_rank(cls, rank: int) -> Lane:
        return _LANES_BY_RANK[rank]


_LANES_BY_RANK: tuple[Lane, ...] = (Lane.OTP, Lane.HIGH, Lane.NORMAL, Lane.BULK)
_LANE_RANK: dict[Lane, int] = {lane: i for i, lane in enumerate(_LANES_BY_RANK)}
LANES_BY_PRIORITY: tuple[Lane, ...] = _LANES_BY_RANK


class PartStatus(StrEnum):
    PENDING = "pending"  # waiting for a claim
    SENDING = "sending"  # claimed; AT+CMGS may be on the wire
    SENT = "sent"  # +CMGS: <mr> came back
    DELIVERED = "delivered"  # status report: completed (TP-ST 0x00-0x1F)
    UNDELIVERED = "undelivered"  # status report: permanent, or temporary with the SC giving up
    FAILED = "failed"  # the message failed before this part went out


class Category(StrEnum):
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


# --- outbound -------------------------------------------------------------------------------


@record
class NewMessage:
    """What a caller asks the store to accept. The caller has already validated the number and
    planned the encoding (`drivers.pdu.count_text`), so the store only records the decision.

    `pool` is the routing decision (`gateway.routing.Router.pool_for`); `sender` is the fairness
    key (API key name or campaign): round-robin is between distinct senders inside a lane.
    `request_hash` lets the store tell an idempotent replay from a conflicting reuse of a key.
    """

    to: str
    text: str
    encoding: str
    segments: int
    lane: Lane = Lane.NORMAL
    sender: str = ""
    api_key: str = ""
    category: Category | None = None
    send_at: datetime | None = None
    expires_at: datetime | None = None
    status_callback: str | None = None
    metadata: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    pool: str = ""
    carrier: str | None = None
    request_status_report: bool = True


@dataclass(frozen=True, slots=True)
class MessageError:
    code: str | None
    error_class: str | None
    detail: str | None


@record
class Message:
    id: str
    to: str
    text: str
    encoding: str
    segments: int
    lane: Lane
    sender: str
    category: Category | None
    status: MessageStatus
    uncertain: bool
    attempts: int
    modem_id: str | None
    send_at: datetime | None
    expires_at: datetime | None
    error: MessageError | None
    status_callback: str | None
    metadata: Mapping[str, Any] | None
    api_key: str
    idempotency_key: str | None
    pool: str
    carrier: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Part:
    message_id: str
    seq: int  # 1-based
    status: PartStatus
    concat_ref: int | None
    modem_id: str | None
    mr: int | None  # TP-MR the modem answered with (+CMGS: <mr>)
    pdu: str | None
    tpdu_length: int | None
    sent_at: datetime | None
    report_status: int | None  # last TP-ST received
    report_at: datetime | None


@record
class Transition:
    """One recorded move of a message. `id` is increasing, so it doubles as a feed cursor (the
    webhook outbox can remember the last id it handled instead of duplicating rows)."""

    id: int
    message_id: str
    from_status: MessageStatus | None
    to_status: MessageStatus
    at: datetime
    modem_id: str | None
    error_code: str | None
    error_class: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class MessageDetail:
    message: Message
    parts: tuple[Part, ...]
    history: tuple[Transition, ...]


@record
class Enqueued:
    """`created` is False when an idempotency key replayed an existing message."""

    message: Message
    created: bool


@dataclass(frozen=True, slots=True)
class MessageQuery:
    status: MessageStatus | None = None
    to: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None  # an id: results continue strictly after (older than) it
    limit: int = 50


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: tuple[Message, ...]
    next_cursor: str | None


# --- claims and outcomes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """One ready modem asking for work. The scheduler fills in policy; the store executes it.

    - `lanes`: lane order to try (strict priority or the weighted order of this turn).
    - `pools`: routing pools this modem may serve, most preferred first ('' = unrouted).
    - `aged_pools`: pools this modem may serve only for messages created before the cutoff
      (preference fallback when the preferred SIMs are too slow).
    - `healthy_others`: other modems that are available now; a message pinned (sticky) to one of
      them is left for it, and a message excluded from every available modem becomes fair game.
    - `recipients_only`: when this SIM is at its unique-recipients cap, the recipients it may
      still write to this month.
    """

    modem_id: str
    lanes: tuple[Lane, ...]
    pools: tuple[str, ...]
    now: datetime
    aged_pools: tuple[tuple[str, datetime], ...] = ()
    healthy_others: frozenset[str] = frozenset()
    recipients_only: frozenset[str] | None = None
    day: str = ""  # usage period keys for the per-SIM counters, e.g. "2024-05-01"
    month: str = ""  # e.g. "2024-05"


@dataclass(frozen=True, slots=True)
class JobPart:
    seq: int


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed message: `sending` is committed before this object exists.

    `parts` lists only the parts still to send (a resend after a partial send on the same SIM
    skips the ones that went out). Encode with `gateway.encoding.encode_job`; report each part
    with `Scheduler.part_sent`, or the whole job with `failed`/`uncertain`/`release`.
    `attempt` is the claim token: outcomes for an older attempt are refused.
    """

    message_id: str
    to: str
    text: str
    encoding: str
    segments: int
    concat_ref: int | None
    parts: tuple[JobPart, ...]
    lane: Lane
    sender: str
    modem_id: str
    attempt: int
    uncertain: bool
    expires_at: datetime | None
    request_status_report: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """How the store should file a failed attempt; the decision comes from `gateway.retry`."""

    error_code: str | None
    error_class: str
    detail: str
    retry_at: datetime | None  # None: the message fails for good
    exclude_modem: bool = False


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    """The message's status after an outcome was recorded (None if the job was stale)."""

    message_id: str
    status: MessageStatus | None
    accepted: bool


@dataclass(frozen=True, slots=True)
class StatusReportIn:
    modem_id: str
    mr: int
    recipient: str
    status: int  # TP-ST
    received_at: datetime
    discharge_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusReportMatch:
    message_id: str
    part: int
    part_status: PartStatus
    message_status: MessageStatus
    changed: bool  # the message changed status because of this report


@dataclass(frozen=True, slots=True)
class Housekeeping:
    """What one `promote_due` pass did, and when the next scheduled thing falls due."""

    promoted: int
    released: int
    expired: int
    next_due: datetime | None


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """Messages found in `sending` when the store was opened (crash or kill)."""

    uncertain: tuple[str, ...]
    requeued: int
    failed: int


@dataclass(frozen=True, slots=True)
class SimUsage:
    modem_id: str
    day: str
    sent_today: int
    month: str
    recipients_this_month: frozenset[str]


# --- inbound ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundPart:
    """One received SMS-DELIVER as decoded from the modem. `concat` is (ref, total, seq)."""

    modem_id: str
    sender: str
    text: str
    encoding: str
    smsc_timestamp: datetime
    received_at: datetime
    pdu: str | None = None
    concat: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    id: str
    modem_id: str
    sender: str
    text: str
    encoding: str
    smsc_timestamp: datetime
    received_at: datetime
    parts_expected: int
    parts_received: int
    complete: bool
    missing: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class InboundResult:
    """`duplicate`: this exact part was stored before (re-read or network redelivery) and was
    dropped. `message`: a message completed (or a single-part one) by this part. Either way the
    caller may now delete the SMS from the SIM."""

    duplicate: bool
    message: InboundMessage | None
    flushed: tuple[InboundMessage, ...] = ()  # older incomplete messages closed by a ref reuse


@dataclass(frozen=True, slots=True)
class InboundQuery:
    sender: str | None = None
    modem_id: str | None = None
    since: datetime | None = None
    cursor: str | None = None
    limit: int = 50


# --- numbers ----------------------------------------------------------------------------------


class Reachability(StrEnum):
    REACHABLE = "reachable"  # a delivery report said delivered
    ABSENT = "absent"  # temporarily unreachable: try later
    INVALID = "invalid"  # unknown subscriber / unassigned number


@dataclass(frozen=True, slots=True)
class LearnedReachability:
    number: str
    state: Reachability
    reason: str
    updated_at: datetime
    expires_at: datetime | None
