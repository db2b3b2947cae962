"""Who is who on the simulated network: operators, SIM cards, and the numbers that identify them.

Identities are derived from the modem index and seed, so a pool started twice with the same
arguments presents the same IMEIs, ICCIDs and MSISDNs (the gateway confirms identity by them).
Numbers follow the German mobile plan (`+49 15x/16x/17x`, 11 national digits) so that
`phonenumbers` sees them as valid mobiles and carrier-aware routing has real prefixes to work with.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final


@dataclass(frozen=True, slots=True)
class Operator:
    """A mobile operator: network code, names, SMSC, and the number prefixes it owns."""

    name: str
    short_name: str
    mcc: str
    mnc: str
    smsc: str
    prefixes: tuple[str, ...]

    @property
    def numeric(self) -> str:
        return self.mcc + self.mnc

    def owns(self, number: str) -> bool:
        return any(number.startswith(p) for p in self.prefixes)

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "short_name": self.short_name,
            "mcc": self.mcc,
            "mnc": self.mnc,
            "smsc": self.smsc,
            "prefixes": list(self.prefixes),
        }


DEFAULT_OPERATORS: Final[tuple[Operator, ...]] = (
    Operator(
        "SimTel", "SIMTEL", "262", "01", "+491710760000",
        ("+49151", "+49160", "+49170", "+49171", "+49175"),
    ),
    Operator(
        "SimFone", "SIMFONE", "262", "02", "+491722270333",
        ("+49152", "+49162", "+49172", "+49173", "+49174"),
    ),
    Operator(
        "SimO", "SIMO", "262", "03", "+491760000443",
        ("+49157", "+49159", "+49163", "+49176", "+49177", "+49178", "+49179"),
    ),
)
COUNTRY_CODE: Final = "49"


def luhn_digit(digits: str) -> str:
    """The Luhn check digit that completes `digits` (IMEI and ICCID use it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def make_imei(tac: str, index: int, seed: int) -> str:
    serial = (random.Random(f"imei:{seed}:{index}").randrange(10**6) + index) % 10**6
    body = f"{tac[:8]:0<8}{serial:06d}"
    return body + luhn_digit(body)


def operator_for(number: str, operators: tuple[Operator, ...]) -> Operator | None:
    for op in operators:
        if op.owns(number):
            return op
    return None


def normalize_number(number: str, country_code: str = COUNTRY_CODE) -> str:
    """A dialled number as the network routes it: `00..` and national `0..` become `+..`."""
    n = number.strip().replace(" ", "")
    if n.startswith("+"):
        return n
    if n.startswith("00") and len(n) > 4:
        return "+" + n[2:]
    if n.startswith("0") and len(n) > 6:
        return "+" + country_code + n[1:]
    return n


@dataclass(slots=True)
class SimCard:
    """A SIM: identities, PIN state, account (balance, daily cap) and its TP-MR counter.

    Mutable on purpose: it is the live state the network and the modem holding it share. Its
    SMS storage ("SM") lives with the modem's stores, keyed by this card.
    """

    iccid: str
    imsi: str
    msisdn: str
    operator: Operator
    pin: str | None = None
    puk: str = "12345678"
    balance: Decimal | None = None  # None: postpaid, never runs out
    price_per_part: Decimal = Decimal("0.09")
    daily_cap: int | None = None
    currency: str = "EUR"
    smsc: str = ""
    pin_attempts_left: int = 3
    locked: bool = False  # PIN entry needed
    puk_blocked: bool = False
    last_mr: int = -1
    sent_today: int = 0
    day: date = field(default_factory=date.today)

    def __post_init__(self) -> None:
        if not self.smsc:
            self.smsc = self.operator.smsc
        self.locked = self.pin is not None

    def next_mr(self) -> int:
        """The ME's TP-MR: incremented per submit, wrapping at 255 (TS 23.040 9.2.3.6)."""
        self.last_mr = (self.last_mr + 1) % 256
        return self.last_mr

    def charge(self, today: date) -> int | None:
        """Count one submitted part; a CMS error code when the account refuses it."""
        if today != self.day:
            self.day = today
            self.sent_today = 0
        if self.daily_cap is not None and self.sent_today >= self.daily_cap:
            return 21  # short message transfer rejected: the carrier blocks bulk-looking SIMs
        if self.balance is not None:
            if self.balance < self.price_per_part:
                return 8  # operator determined barring: prepaid credit exhausted
            self.balance -= self.price_per_part
        self.sent_today += 1
        return None


def make_sim(index: int, seed: int, operators: tuple[Operator, ...]) -> SimCard:
    """The SIM for modem `index`: operators in turn, numbers from the operator's first prefix."""
    op = operators[index % len(operators)]
    rng = random.Random(f"sim:{seed}:{index}")
    prefix = op.prefixes[0]
    national_len = 11 - (len(prefix) - 1 - len(COUNTRY_CODE))  # digits after the prefix
    subscriber = 5550000 + index
    msisdn = prefix + f"{subscriber:0{national_len}d}"[-national_len:]
    msin = f"{rng.randrange(10**6):06d}{index:04d}"[-10:]
    imsi = op.mcc + op.mnc + msin
    iccid_body = "8949" + op.mnc + "0" + f"{rng.randrange(10**6):06d}{index:06d}"
    iccid = iccid_body + luhn_digit(iccid_body)
    return SimCard(iccid=iccid, imsi=imsi, msisdn=msisdn, operator=op)
