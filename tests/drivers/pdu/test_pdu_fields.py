"""Addresses, timestamps, validity periods, DCS and UDH, each checked against TS 23.040/23.038."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from drivers.pdu import (
    Address,
    BadAddressError,
    BadTimestampError,
    EncodeArgumentError,
    Encoding,
    HeaderOverrunError,
    LengthBeyondDataError,
    OddUcs2LengthError,
    build_dcs,
    decode_deliver,
    decode_pdu,
    decode_status_report,
    decode_submit,
    describe_dcs,
    parse_address,
)
from drivers.pdu.address import decode_address, decode_smsc, encode_address, encode_smsc
from drivers.pdu.timefields import (
    decode_timestamp,
    encode_timestamp,
    relative_minutes,
    relative_tp_vp,
)
from drivers.pdu.udh import parse_udh

# --- addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+46708251358", Address("+46708251358", 0x91)),
        ("0708251358", Address("0708251358", 0x81)),
        ("+44 7700-900 123", Address("+447700900123", 0x91)),
        ("3200", Address("3200", 0x81)),
        ("*100#", Address("*100#", 0x81)),
        ("Acme", Address("Acme", 0xD0)),
        ("ABC", Address("ABC", 0xD0)),  # not extended-BCD digits
    ],
)
def test_parse_address(number: str, expected: Address) -> None:
    assert parse_address(number) == expected


@pytest.mark.parametrize("bad", ["", "ABCDEFGHIJKL", "+" + "1" * 21, "Жук"])
def test_parse_address_rejects(bad: str) -> None:
    with pytest.raises(EncodeArgumentError):
        parse_address(bad)


def test_odd_digit_count_is_f_padded() -> None:
    assert encode_address(parse_address("12345")).hex().upper() == "05812143F5"


def test_international_address_field() -> None:
    assert encode_address(parse_address("+46708251358")).hex().upper() == "0B916407281553F8"


def test_alphanumeric_address_counts_semi_octets_of_packed_septets() -> None:
    field = encode_address(parse_address("FONIC"))
    assert field.hex().upper() == "09D0C6A7333904"  # as in the pub-pm-alpha-fonic vector
    address, end = decode_address(field, 0)
    assert address == Address("FONIC", 0xD0)
    assert address.is_alphanumeric and end == len(field)


def test_address_round_trip_keeps_extended_bcd_symbols() -> None:
    field = encode_address(parse_address("*#1"))
    assert decode_address(field, 0)[0].number == "*#1"


def test_filler_inside_digits_is_rejected() -> None:
    with pytest.raises(BadAddressError):
        decode_address(bytes.fromhex("0481F121"), 0)


def test_address_length_beyond_data() -> None:
    with pytest.raises(LengthBeyondDataError):
        decode_address(bytes.fromhex("0B9164"), 0)


@pytest.mark.parametrize("prefix", ["00", "0181"])
def test_empty_smsc_prefixes_mean_no_smsc(prefix: str) -> None:
    smsc, offset = decode_smsc(bytes.fromhex(prefix + "AA"))
    assert smsc is None
    assert offset == len(prefix) // 2


def test_smsc_prefix_encoding() -> None:
    assert encode_smsc(None) == b"\x00"
    assert encode_smsc("+27381000015").hex().upper() == "07917283010010F5"
    assert decode_smsc(encode_smsc("+27381000015"))[0] == Address("+27381000015", 0x91)
    assert decode_smsc(encode_smsc("+436640501"))[0] == Address("+436640501", 0x91)
    with pytest.raises(EncodeArgumentError):
        encode_smsc("Operator")


def test_smsc_longer_than_twelve_octets_is_rejected() -> None:
    with pytest.raises(BadAddressError):
        decode_smsc(bytes([13]) + bytes(13))


# --- timestamps ----------------------------------------------------------------------------


def test_negative_quarter_hour_offset() -> None:
    # 2010-09-11 15:10:11 -03:00 (from the pub-pm-gmt-minus3 vector): sign bit 0x08.
    moment = decode_timestamp(bytes.fromhex("01901151011129"))
    assert moment.isoformat() == "2010-09-11T15:10:11-03:00"


def test_half_hour_offset() -> None:
    moment = decode_timestamp(bytes.fromhex("70503070400422"))
    assert moment.utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize("minutes", [0, 15, -15, 345, -225, 19 * 60 + 45, -(19 * 60 + 45)])
def test_timestamp_round_trip_across_offsets(minutes: int) -> None:
    moment = datetime(2031, 12, 31, 23, 59, 58, tzinfo=timezone(timedelta(minutes=minutes)))
    octets = encode_timestamp(moment)
    assert decode_timestamp(octets) == moment
    assert decode_timestamp(octets).utcoffset() == timedelta(minutes=minutes)


def test_years_69_to_99_are_19xx() -> None:
    assert decode_timestamp(bytes.fromhex("96101000000000")).year == 1969
    assert decode_timestamp(bytes.fromhex("86101000000000")).year == 2068


def test_naive_datetime_is_encoded_as_utc() -> None:
    assert encode_timestamp(datetime(2024, 1, 2, 3, 4, 5)) == encode_timestamp(
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    )


def test_offset_that_is_not_whole_quarters_is_refused() -> None:
    with pytest.raises(EncodeArgumentError):
        encode_timestamp(datetime(2024, 1, 1, tzinfo=timezone(timedelta(minutes=10))))


@pytest.mark.parametrize("octets", ["A0000000000000", "01223000000000", "01010142000000"])
def test_bad_timestamps_are_typed_errors(octets: str) -> None:
    with pytest.raises(BadTimestampError):
        decode_timestamp(bytes.fromhex(octets))


# --- validity period -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp_vp", "minutes"),
    [
        (0, 5),
        (143, 720),
        (144, 750),
        (167, 1440),
        (168, 2 * 1440),
        (170, 4 * 1440),
        (196, 30 * 1440),
        (197, 5 * 10080),
        (255, 63 * 10080),
    ],
)
def test_relative_validity_table(tp_vp: int, minutes: int) -> None:
    assert relative_minutes(tp_vp) == minutes
    assert relative_tp_vp(minutes) == tp_vp


def test_every_relative_value_round_trips() -> None:
    for tp_vp in range(256):
        assert relative_tp_vp(relative_minutes(tp_vp)) == tp_vp


def test_relative_encoding_rounds_up_to_the_next_step() -> None:
    for minutes in [1, 6, 721, 1441, 30 * 1440 + 1, 10 * 10080 + 1]:
        tp_vp = relative_tp_vp(minutes)
        assert relative_minutes(tp_vp) >= minutes
        assert tp_vp == 0 or relative_minutes(tp_vp - 1) < minutes
    assert relative_tp_vp(10**9) == 255
    with pytest.raises(EncodeArgumentError):
        relative_tp_vp(0)


def test_enhanced_validity_is_kept_raw() -> None:
    # SMS-SUBMIT with TP-VPF = 01 (enhanced): 7 octets, kept as they came.
    pdu = decode_submit("0009000B916407281553F80000" + "01020304050607" + "0AE8329BFD4697D9EC37")
    assert pdu.validity is not None
    assert pdu.validity.format == "enhanced"
    assert pdu.validity.raw == bytes.fromhex("01020304050607")
    assert pdu.user_data.text == "hellohello"


# --- data coding scheme --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dcs", "encoding", "message_class"),
    [
        (0x00, Encoding.GSM7, None),
        (0x04, Encoding.EIGHT_BIT, None),
        (0x08, Encoding.UCS2, None),
        (0x0C, Encoding.GSM7, None),  # reserved alphabet: read as GSM-7
        (0x10, Encoding.GSM7, 0),
        (0x11, Encoding.GSM7, 1),
        (0x16, Encoding.EIGHT_BIT, 2),
        (0x1B, Encoding.UCS2, 3),
        (0x48, Encoding.UCS2, None),  # automatic deletion group
        (0x85, Encoding.GSM7, None),  # reserved coding group
        (0xC8, Encoding.GSM7, None),  # message waiting, discard
        (0xD0, Encoding.GSM7, None),  # message waiting, store
        (0xE8, Encoding.UCS2, None),  # message waiting, store, UCS-2
        (0xF0, Encoding.GSM7, 0),
        (0xF4, Encoding.EIGHT_BIT, 0),
        (0xF5, Encoding.EIGHT_BIT, 1),
        (0xF9, Encoding.GSM7, 1),  # reserved bit 3 ignored
        (0xFB, Encoding.GSM7, 3),
        (0xFF, Encoding.EIGHT_BIT, 3),
    ],
)
def test_dcs(dcs: int, encoding: Encoding, message_class: int | None) -> None:
    coding = describe_dcs(dcs)
    assert coding.encoding is encoding
    assert coding.message_class == message_class


def test_dcs_flags() -> None:
    assert describe_dcs(0x20).compressed
    assert describe_dcs(0x40).auto_delete
    waiting = describe_dcs(0xC8)
    assert waiting.waiting_active is True and waiting.waiting_kind == 0
    assert waiting.waiting_store is False
    stored = describe_dcs(0xDA)
    assert stored.waiting_active is True and stored.waiting_kind == 2 and stored.waiting_store
    assert describe_dcs(0x00).waiting_active is None


def test_build_dcs() -> None:
    assert build_dcs(Encoding.GSM7) == 0x00
    assert build_dcs(Encoding.UCS2) == 0x08
    assert build_dcs(Encoding.EIGHT_BIT) == 0x04
    assert build_dcs(Encoding.GSM7, 0) == 0x10
    assert build_dcs(Encoding.UCS2, 1) == 0x19
    with pytest.raises(EncodeArgumentError):
        build_dcs(Encoding.GSM7, 4)


# --- user data header ----------------------------------------------------------------------


def test_udh_elements_and_their_meanings() -> None:
    header = bytes.fromhex("130003AB0201080412340302050400FA00F0240101250103")
    header = bytes([len(header) - 1]) + header[1:]
    udh = parse_udh(header)
    assert [ie.iei for ie in udh.elements] == [0x00, 0x08, 0x05, 0x24, 0x25]
    assert udh.concat is not None and udh.concat.ref == 0xAB and udh.concat.ref_bits == 8
    assert udh.ports is not None and (udh.ports.dest, udh.ports.src, udh.ports.bits) == (
        0xFA,
        0xF0,
        16,
    )
    assert udh.single_shift == 1 and udh.locking_shift == 3
    assert udh.raw == header


def test_16_bit_concat_and_8_bit_ports_and_unknown_elements() -> None:
    udh = parse_udh(bytes.fromhex("0E0804BEEF03020402102070020102"))
    assert udh.concat is not None
    assert (udh.concat.ref, udh.concat.total, udh.concat.seq, udh.concat.ref_bits) == (
        0xBEEF,
        3,
        2,
        16,
    )
    assert udh.ports is not None and udh.ports.bits == 8 and udh.ports.dest == 0x10
    assert udh.elements[-1].iei == 0x70 and udh.elements[-1].data == b"\x01\x02"


def test_element_longer_than_the_header_is_an_overrun() -> None:
    with pytest.raises(HeaderOverrunError):
        parse_udh(bytes.fromhex("0400050102"))
    with pytest.raises(HeaderOverrunError):
        parse_udh(bytes.fromhex("0100"))


DELIVER_HEAD = "0004" + "0B916407281553F8" + "00"  # no SMSC, TP-MMS, sender, PID


def test_udh_longer_than_user_data_is_an_overrun() -> None:
    # UCS-2 (DCS 08), TP-UDHI, UDL 4 but UDHL 5.
    with pytest.raises(HeaderOverrunError):
        decode_pdu("0044" + "0B916407281553F8" + "0008" + "99309251619580" + "04" + "0500030102")


def test_udh_header_septets_beyond_udl_is_an_overrun() -> None:
    # GSM-7, UDHL 5 (6 octets = 7 septets) but UDL says 3 septets.
    with pytest.raises(HeaderOverrunError):
        decode_pdu("0044" + "0B916407281553F8" + "0000" + "99309251619580" + "03" + "050003010201")


def test_odd_ucs2_length_is_an_error() -> None:
    with pytest.raises(OddUcs2LengthError):
        decode_pdu(DELIVER_HEAD + "08" + "99309251619580" + "03" + "004100")


def test_lone_surrogate_keeps_the_octets() -> None:
    pdu = decode_deliver(DELIVER_HEAD + "08" + "99309251619580" + "04" + "D83D0041")
    assert pdu.user_data.text is None
    assert pdu.user_data.payload == bytes.fromhex("D83D0041")


def test_surrogate_pair_is_joined() -> None:
    pdu = decode_deliver(DELIVER_HEAD + "08" + "99309251619580" + "04" + "D83DDE00")
    assert pdu.user_data.text == "😀"


def test_national_language_udh_drives_the_decoder() -> None:
    from drivers.pdu.userdata import encode_user_data

    header = bytes.fromhex("06250101240101")  # Turkish locking + single shift
    septets = bytes([0x49, 0x1B, 0x53, 0x07, 0x0B, 0x40])  # I, ESC Ş, ı, Ğ, İ
    user_data = encode_user_data(Encoding.GSM7, septets, header).hex()
    pdu = decode_deliver(
        DELIVER_HEAD.replace("0004", "0044", 1) + "00" + "99309251619580" + user_data
    )
    assert pdu.user_data.text == "IŞıĞİ"
    assert pdu.user_data.udh is not None and pdu.user_data.udh.locking_shift == 1


# --- status report optional parameters (TS 23.040 9.2.2.3, TP-PI) --------------------------

SR_HEAD = "000605049121439930925161958099309251619580"  # MR 5, +1234, SCTS, DT


def test_status_report_with_parameter_indicator_and_user_data() -> None:
    from drivers.pdu import gsm7

    text = gsm7.pack_septets(gsm7.encode_septets("hello")).hex()
    pdu = decode_status_report(SR_HEAD + "00" + "07" + "7F" + "00" + "05" + text)
    assert pdu.status == 0 and pdu.delivered
    assert pdu.pid == 0x7F
    assert pdu.user_data is not None and pdu.user_data.text == "hello"


def test_status_report_parameter_indicator_extension_octets_are_skipped() -> None:
    from drivers.pdu import StatusReport

    pdu = decode_pdu(SR_HEAD + "00" + "81" + "00" + "41")  # TP-PI 0x81 + one extension octet
    assert isinstance(pdu, StatusReport)
    assert pdu.pid == 0x41 and pdu.user_data is None


def test_status_report_announcing_missing_fields_is_truncated() -> None:
    from drivers.pdu import TruncatedError

    with pytest.raises(TruncatedError):
        decode_pdu(SR_HEAD + "00" + "01")


def test_status_report_flags() -> None:
    from drivers.pdu import StatusReport

    pdu = decode_pdu("0022" + SR_HEAD[4:] + "20")  # SRQ set, MMS clear, TP-ST 0x20
    assert isinstance(pdu, StatusReport)
    assert pdu.status_report_qualifier and pdu.more_messages_to_send
    assert pdu.temporary and not pdu.completed


def test_pdu_error_is_a_value_error_with_offset() -> None:
    from drivers.pdu import PduError

    with pytest.raises(ValueError) as caught:
        decode_pdu("0791")
    assert isinstance(caught.value, PduError)
    assert caught.value.offset == 0
    assert "octet 0" in str(caught.value)


def test_kind_specific_decoders_refuse_other_kinds() -> None:
    from drivers.pdu import UnexpectedKindError

    deliver = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"
    assert decode_deliver(deliver).sender.number == "27838890001"
    with pytest.raises(UnexpectedKindError):
        decode_status_report(deliver)
    with pytest.raises(UnexpectedKindError):
        decode_submit(deliver)
    with pytest.raises(UnexpectedKindError):
        decode_deliver("0011000B916407281553F80000AA0AE8329BFD4697D9EC37")
