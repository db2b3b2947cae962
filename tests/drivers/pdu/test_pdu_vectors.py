"""Every public vector decodes to the agreed fields, and every malformed one is a typed PduError.

Confidence levels (pdu-vectors.md): `high`/`medium`/`low` vectors are compared field by field
on every key of `expect`. The one `disputed` vector (gammu 14: DCS 0xF9 over what is really
UCS-2 text) is compared too, because its expected decode is what TS 23.038 prescribes: in group
0xF0-0xFF bit 3 is reserved and bit 2 = 0 means GSM-7, so 0xF9 is GSM-7 class 1. Guessing UCS-2
from the reserved bit would misread the 0xFB vector (gammu 42), which carries real GSM-7 text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drivers.pdu import (
    Deliver,
    PduError,
    Reason,
    decode_pdu,
    to_json_dict,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "pdu-vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(DATA.read_text(encoding="utf-8"))
VALID = [v for v in VECTORS if not v["expect"].get("error")]
MALFORMED = [v for v in VECTORS if v["expect"].get("error")]

# Keys of `expect` that are not fields of one decoded PDU (checked in their own tests).
NOT_PER_PDU = {"reassembled_text"}


def test_vector_file_is_the_documented_one() -> None:
    assert len(VECTORS) == 88
    assert len({v["id"] for v in VECTORS}) == len(VECTORS)
    assert {v["confidence"] for v in VALID} <= {"high", "medium", "low", "disputed"}


@pytest.mark.parametrize("vector", VALID, ids=[v["id"] for v in VALID])
def test_vector_decodes_to_expected_fields(vector: dict[str, Any]) -> None:
    decoded = to_json_dict(decode_pdu(vector["pdu"]))
    expect = vector["expect"]
    for key, value in expect.items():
        if key in NOT_PER_PDU:
            continue
        assert key in decoded, f"{key} missing from decode"
        assert decoded[key] == value, f"{key}: {decoded[key]!r} != {value!r}"
    assert decoded["kind"] == vector["kind"]
    # The JSON view is plain JSON.
    assert json.loads(json.dumps(decoded)) == decoded


@pytest.mark.parametrize("vector", VALID, ids=[v["id"] for v in VALID])
def test_vector_decodes_the_same_without_smsc_prefix(vector: dict[str, Any]) -> None:
    octets = bytes.fromhex(vector["pdu"])
    tpdu = octets[1 + octets[0] :]
    with_smsc = to_json_dict(decode_pdu(octets))
    bare = to_json_dict(decode_pdu(tpdu.hex(), has_smsc=False))
    assert bare["smsc"] is None
    assert {**with_smsc, "smsc": None} == bare


# What the vector's `reason` names -> the Reason our decoder must give.
REASON_WORDS = {
    "bad hex": Reason.BAD_HEX,
    "reserved MTI": Reason.RESERVED_MESSAGE_TYPE,
    "truncated SMSC": Reason.LENGTH_BEYOND_DATA,
    "compressed user data": Reason.UNSUPPORTED,
    "filler nibble inside address digits": Reason.BAD_ADDRESS,
    "UDHI set but no user data": Reason.HEADER_OVERRUN,
    "user data shorter than TP-UDL": Reason.LENGTH_BEYOND_DATA,
    "truncated status report": Reason.TRUNCATED,
}


@pytest.mark.parametrize("vector", MALFORMED, ids=[v["id"] for v in MALFORMED])
def test_malformed_vector_is_a_typed_error(vector: dict[str, Any]) -> None:
    with pytest.raises(PduError) as caught:
        decode_pdu(vector["pdu"])
    words = [w for w in REASON_WORDS if w in vector["expect"]["reason"]]
    assert len(words) == 1, "every malformed vector names one known reason"
    assert caught.value.reason == REASON_WORDS[words[0]]
    assert str(caught.value)


def test_multipart_vectors_reassemble_to_the_agreed_text() -> None:
    parts: dict[tuple[str, int], dict[int, tuple[int, str]]] = {}
    expected: dict[tuple[str, int], str] = {}
    for vector in VALID:
        pdu = decode_pdu(vector["pdu"])
        if not isinstance(pdu, Deliver) or pdu.user_data.concat is None:
            continue
        concat = pdu.user_data.concat
        if pdu.user_data.text is None:
            continue  # 8-bit (WAP push) parts: no text to join
        key = (pdu.sender.number, concat.ref)
        parts.setdefault(key, {})[concat.seq] = (concat.total, pdu.user_data.text)
        if "reassembled_text" in vector["expect"]:
            expected[key] = vector["expect"]["reassembled_text"]
    assert len(expected) == 2, "the vector file has two complete multipart texts"
    for key, text in expected.items():
        group = parts[key]
        assert {total for total, _ in group.values()} == {len(group)}
        assert "".join(group[seq][1] for seq in sorted(group)) == text
