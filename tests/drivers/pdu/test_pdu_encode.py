"""Encoders (SUBMIT for the modem; DELIVER and STATUS-REPORT for the simulator) and segmentation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from drivers.pdu import (
    Deliver,
    EncodeArgumentError,
    Encoding,
    SegmentCount,
    StatusReport,
    Submit,
    count_text,
    decode_deliver,
    decode_pdu,
    encode_deliver,
    encode_status_report,
    encode_submit,
    gsm7,
    split_text,
)


def _submit(hex_pdu: str) -> Submit:
    pdu = decode_pdu(hex_pdu)
    assert isinstance(pdu, Submit)
    return pdu


def test_submit_matches_the_classic_example() -> None:
    (part,) = encode_submit("+46708251358", "hellohello", validity_minutes=4 * 1440)
    assert part.hex == "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    assert part.tpdu_length == 23 == len(part.hex) // 2 - 1
    assert (part.seq, part.total) == (1, 1)


def test_submit_with_smsc_and_status_report() -> None:
    (part,) = encode_submit(
        "3200", "Pontos", reference=79, smsc="+351911616161", request_status_report=True
    )
    assert part.hex.startswith("0791539111161616")
    assert part.tpdu_length == len(part.hex) // 2 - 8
    pdu = _submit(part.hex)
    assert pdu.smsc is not None and pdu.smsc.number == "+351911616161"
    assert pdu.message_reference == 79
    assert pdu.destination.number == "3200" and pdu.destination.toa == 0x81
    assert pdu.request_status_report and pdu.validity is None
    assert pdu.user_data.text == "Pontos"


def test_flash_class_and_forced_ucs2() -> None:
    (part,) = encode_submit("+1555", "Hi", message_class=0, encoding=Encoding.UCS2)
    pdu = _submit(part.hex)
    assert pdu.user_data.dcs == 0x18
    assert pdu.user_data.message_class == 0
    assert pdu.user_data.text == "Hi"


def test_eight_bit_data() -> None:
    (part,) = encode_submit("+1555", "héllo", encoding=Encoding.EIGHT_BIT)
    pdu = _submit(part.hex)
    assert pdu.user_data.encoding is Encoding.EIGHT_BIT
    assert pdu.user_data.payload == "héllo".encode()


def test_forcing_gsm7_on_other_text_is_refused() -> None:
    with pytest.raises(EncodeArgumentError):
        encode_submit("+1555", "Жук", encoding=Encoding.GSM7)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reference": 256},
        {"reference": -1},
        {"concat_ref": 256},
        {"concat_ref": 70000, "concat_ref_bits": 16},
        {"validity_minutes": 0},
        {"message_class": 5},
    ],
)
def test_bad_arguments_are_typed_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(EncodeArgumentError):
        encode_submit("+1555", "x" * 200, **kwargs)


def test_long_gsm7_message_uses_the_reference_for_concatenation() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(400))
    parts = encode_submit("+1555", text, reference=42)
    assert [p.seq for p in parts] == [1, 2, 3] and {p.total for p in parts} == {3}
    decoded = [_submit(p.hex) for p in parts]
    for seq, pdu in enumerate(decoded, start=1):
        assert pdu.message_reference == 42
        concat = pdu.user_data.concat
        assert concat is not None
        assert (concat.ref, concat.total, concat.seq, concat.ref_bits) == (42, 3, seq, 8)
        assert pdu.user_data.udl <= 160
    assert [d.user_data.udl for d in decoded] == [160, 160, 7 + 400 - 306]
    assert "".join(d.user_data.text or "" for d in decoded) == text


def test_sixteen_bit_reference_leaves_152_septets() -> None:
    parts = encode_submit("+1555", "a" * 400, concat_ref=0xBEEF, concat_ref_bits=16)
    decoded = [_submit(p.hex) for p in parts]
    assert [len(d.user_data.text or "") for d in decoded] == [152, 152, 96]
    assert {d.user_data.concat.ref for d in decoded if d.user_data.concat} == {0xBEEF}


def test_escape_pair_is_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = encode_submit("+1555", text)
    texts = [_submit(p.hex).user_data.text for p in parts]
    assert texts == ["a" * 152, "€" + "b" * 10]
    first_septets = gsm7.encode_septets(texts[0] or "")
    assert first_septets[-1] != 0x1B


def test_surrogate_pair_is_never_split() -> None:
    text = "ж" * 66 + "😀" + "ж" * 10
    parts = encode_submit("+1555", text)
    texts = [_submit(p.hex).user_data.text for p in parts]
    assert texts == ["ж" * 66, "😀" + "ж" * 10]


def test_single_part_limits() -> None:
    assert len(encode_submit("+1", "a" * 160)) == 1
    assert len(encode_submit("+1", "a" * 161)) == 2
    assert len(encode_submit("+1", "€" * 80)) == 1
    assert len(encode_submit("+1", "€" * 81)) == 2
    assert len(encode_submit("+1", "ж" * 70)) == 1
    assert len(encode_submit("+1", "ж" * 71)) == 2
    assert len(encode_submit("+1", "😀" * 35)) == 1
    assert len(encode_submit("+1", "😀" * 36)) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentCount(Encoding.GSM7, 1, 0, 160)),
        ("a" * 160, SegmentCount(Encoding.GSM7, 1, 160, 160)),
        ("a" * 161, SegmentCount(Encoding.GSM7, 2, 161, 153)),
        ("a" * 306, SegmentCount(Encoding.GSM7, 2, 306, 153)),
        ("a" * 307, SegmentCount(Encoding.GSM7, 3, 307, 153)),
        ("{" * 80, SegmentCount(Encoding.GSM7, 1, 160, 160)),
        ("a" * 152 + "{" + "a" * 7, SegmentCount(Encoding.GSM7, 2, 161, 153)),
        ("a" * 152 + "{" * 77, SegmentCount(Encoding.GSM7, 3, 306, 153)),  # { cannot straddle
        ("ж" * 70, SegmentCount(Encoding.UCS2, 1, 70, 70)),
        ("ж" * 71, SegmentCount(Encoding.UCS2, 2, 71, 67)),
        ("😀" * 35, SegmentCount(Encoding.UCS2, 1, 70, 70)),
        ("😀" * 67, SegmentCount(Encoding.UCS2, 3, 134, 67)),  # 33 pairs per part, not 33.5
        ("`", SegmentCount(Encoding.UCS2, 1, 1, 70)),  # backtick is not GSM-7
    ],
)
def test_count_text(text: str, expected: SegmentCount) -> None:
    assert count_text(text) == expected
    encoding, parts = split_text(text)
    assert encoding is expected.encoding
    assert len(parts) == expected.segments
    assert "".join(parts) == text
    assert len(encode_submit("+1", text)) == expected.segments


def test_split_text_with_forced_encoding() -> None:
    encoding, parts = split_text("a" * 100, Encoding.UCS2)
    assert encoding is Encoding.UCS2
    assert [len(p) for p in parts] == [67, 33]


def test_too_many_parts_is_refused() -> None:
    with pytest.raises(EncodeArgumentError):
        encode_submit("+1", "a" * (153 * 255 + 1))


# --- simulator-side encoders ---------------------------------------------------------------


def test_deliver_round_trip_with_alphanumeric_sender_and_negative_offset() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))
    (hex_pdu,) = encode_deliver(
        "Acme Bank",
        "Your code: 1234 €",
        timestamp=moment,
        smsc="+447802000332",
        message_class=1,
        status_report_indication=True,
    )
    pdu = decode_pdu(hex_pdu)
    assert isinstance(pdu, Deliver)
    assert pdu.sender.number == "Acme Bank" and pdu.sender.toa == 0xD0
    assert pdu.smsc is not None and pdu.smsc.number == "+447802000332"
    assert pdu.timestamp == moment and pdu.timestamp.utcoffset() == moment.utcoffset()
    assert pdu.user_data.text == "Your code: 1234 €"
    assert pdu.user_data.message_class == 1
    assert pdu.status_report_indication
    assert not pdu.more_messages_to_send


def test_multipart_deliver_sets_more_messages_on_all_but_the_last_part() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    parts = encode_deliver(
        "+4915112345678", "x😀" * 60, timestamp=moment, concat_ref=300, concat_ref_bits=16
    )
    decoded = [decode_deliver(p) for p in parts]
    assert [d.more_messages_to_send for d in decoded] == [True] * (len(parts) - 1) + [False]
    assert "".join(d.user_data.text or "" for d in decoded) == "x😀" * 60
    assert {d.user_data.concat.ref for d in decoded if d.user_data.concat} == {300}


def test_status_report_round_trip() -> None:
    scts = datetime(2010, 2, 18, 11, 31, 54, tzinfo=timezone(timedelta(hours=1)))
    done = datetime(2010, 2, 18, 11, 47, 50, tzinfo=timezone(timedelta(hours=1)))
    hex_pdu = encode_status_report(
        message_reference=39,
        recipient="+43626575117",
        scts=scts,
        discharge_time=done,
        status=0x43,
        smsc="+34607003110",
    )
    # The fields of the pub-pm-sr-1 vector, reproduced octet for octet.
    assert hex_pdu == "07914306073011F006270B913426565711F7012081111345400120811174054043"
    pdu = decode_pdu(hex_pdu)
    assert isinstance(pdu, StatusReport)
    assert pdu.message_reference == 39 and pdu.status == 0x43 and pdu.permanent_failure
    assert pdu.scts == scts and pdu.discharge_time == done
    assert pdu.recipient.number == "+43626575117"


@pytest.mark.parametrize("kwargs", [{"message_reference": 256}, {"status": 256}])
def test_status_report_argument_ranges(kwargs: dict[str, int]) -> None:
    args = {"message_reference": 1, "status": 0} | kwargs
    with pytest.raises(EncodeArgumentError):
        encode_status_report(
            recipient="+1",
            scts=datetime(2024, 1, 1, tzinfo=UTC),
            discharge_time=datetime(2024, 1, 1, tzinfo=UTC),
            message_reference=args["message_reference"],
            status=args["status"],
        )
