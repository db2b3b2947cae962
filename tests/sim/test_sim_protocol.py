"""The AT interpreter's wire discipline, through the in-process link (same bytes as a pty)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from drivers.pdu import Deliver, StatusReport, Submit, decode_pdu, encode_submit
from sim.link import open_in_process
from sim.pool import SimPool
from sim.storage import Stat
from tests.sim.simclient import LinkClient

HANDSET = "+4915112345678"
Connect = Callable[..., Any]


async def send_pdu(c: LinkClient, to: str, text: str, **kw: Any) -> bytes:
    parts = encode_submit(to, text, **kw)
    reply = b""
    for part in parts:
        await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
        reply += await c.command(part.hex.encode() + b"\x1a", until=b"OK\r\n")
    return reply


async def test_echo_is_on_at_power_on_and_ate0_turns_it_off(link_pool: SimPool) -> None:
    _t, proto = open_in_process(link_pool.modem(0), LinkClient)
    assert isinstance(proto, LinkClient)
    assert await proto.command("AT") == b"AT\r\r\nOK\r\n"
    assert await proto.command("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert await proto.command("AT") == b"\r\nOK\r\n"


async def test_numeric_result_codes_with_atv0(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    assert await c.command("ATV0", until=b"0\r") == b"0\r"
    assert await c.command("AT+CGMI", until=b"0\r") == b"smsgw-sim\r\n0\r"
    assert await c.command("AT+NOPE", until=b"4\r") == b"4\r"
    assert await c.command("ATV1", until=b"OK\r\n") == b"\r\nOK\r\n"


async def test_unknown_command_errors_and_stops_the_line(link_pool: SimPool,
                                                         link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    assert await c.final("AT+CMGF=1;+BOGUS;+CMGF=0") == b"\r\nERROR\r\n"
    assert await c.final("AT+CMGF?") == b"\r\n+CMGF: 1\r\n\r\nOK\r\n"  # the first one ran


async def test_several_commands_on_one_line_answer_once(link_pool: SimPool,
                                                        link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    modem = link_pool.modem(0)
    reply = await c.final("AT+CGMI;+CGSN;+CIMI")
    assert reply == f"\r\nsmsgw-sim\r\n{modem.imei}\r\n{modem.sim.imsi}\r\n\r\nOK\r\n".encode()


async def test_error_rendering_follows_cmee(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    await c.command("AT+CMEE=0")
    assert await c.final("AT+CMGR=999") == b"\r\nERROR\r\n"
    await c.command("AT+CMEE=1")
    assert await c.final("AT+CMGR=999") == b"\r\n+CMS ERROR: 321\r\n"
    await c.command("AT+CMEE=2")
    assert await c.final("AT+CMGR=999") == b"\r\n+CMS ERROR: Invalid memory index\r\n"
    link_pool.modem(0).sim_present = False
    assert await c.final("AT+CIMI") == b"\r\n+CME ERROR: SIM not inserted\r\n"


async def test_prompt_is_a_partial_line_and_esc_cancels(link_pool: SimPool,
                                                        link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    part = encode_submit(HANDSET, "never sent")[0]
    assert await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ") == b"\r\n> "
    assert await c.command(part.hex.encode()[:10] + b"\x1b") == b"\r\nOK\r\n"
    assert HANDSET not in link_pool.net.handsets
    assert await c.final("AT") == b"\r\nOK\r\n"


async def test_pdu_is_echoed_when_echo_is_on(link_pool: SimPool) -> None:
    _t, c = open_in_process(link_pool.modem(0), LinkClient)
    assert isinstance(c, LinkClient)
    part = encode_submit(HANDSET, "echo")[0]
    await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
    reply = await c.command(part.hex.encode() + b"\x1a")
    assert reply.startswith(part.hex.encode())
    assert re.fullmatch(rb"[0-9A-F]+\r\n\+CMGS: 0\r\n\r\nOK\r\n", reply)


async def test_tpdu_length_and_pdu_checks(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    part = encode_submit(HANDSET, "length check")[0]
    await c.command(f"AT+CMGS={part.tpdu_length + 1}", until=b"> ")
    assert await c.command(part.hex.encode() + b"\x1a", until=b"\r\n+CMS ERROR: 304\r\n")
    await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
    assert await c.command(b"00ZZ\x1a", until=b"+CMS ERROR: 304\r\n")
    assert await c.final("AT+CMGS=0") == b"\r\n+CMS ERROR: 304\r\n"
    assert await c.final("AT+CMGS=200") == b"\r\n+CMS ERROR: 304\r\n"
    # an SMS-DELIVER is not something a phone can submit
    deliver = "0791947101670000040D91945111325476F80000621132202180000BE8329BFD06B5DFE4721B"
    await c.command("AT+CMGS=30", until=b"> ")
    assert await c.command(deliver.encode() + b"\x1a", until=b"+CMS ERROR: 304\r\n")
    assert HANDSET not in link_pool.net.handsets


async def test_submit_assigns_tp_mr_that_wraps_at_255(link_pool: SimPool,
                                                      link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    link_pool.modem(0).sim.last_mr = 253
    refs = []
    for _ in range(4):
        reply = await send_pdu(c, HANDSET, "mr")
        m = re.search(rb"\+CMGS: (\d+)", reply)
        assert m is not None
        refs.append(int(m.group(1)))
    assert refs == [254, 255, 0, 1]


async def test_cmgw_then_cmss_sends_from_storage(link_pool: SimPool,
                                                 link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    part = encode_submit(HANDSET, "stored first")[0]
    await c.command(f"AT+CMGW={part.tpdu_length}", until=b"> ")
    reply = await c.command(part.hex.encode() + b"\x1a")
    assert reply == b"\r\n+CMGW: 1\r\n\r\nOK\r\n"
    listing = await c.final("AT+CMGL=2")
    assert listing.startswith(f"\r\n+CMGL: 1,2,,{part.tpdu_length}\r\n{part.hex}".encode())
    assert re.fullmatch(rb"\r\n\+CMSS: \d+\r\n\r\nOK\r\n", await c.final("AT+CMSS=1"))
    assert [m.text for m in link_pool.net.handsets[HANDSET].received] == ["stored first"]
    assert link_pool.modem(0).stores["SM"].messages[1].stat is Stat.STO_SENT
    assert await c.final("AT+CMSS=9") == b"\r\n+CMS ERROR: 321\r\n"


async def test_read_list_delete(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    net = link_pool.net
    net.send_from_handset(HANDSET, "modem0", "first")
    net.send_from_handset(HANDSET, "modem0", "second")
    assert await c.final("AT+CPMS?") == b'\r\n+CPMS: "SM",2,30,"SM",2,30,"SM",2,30\r\n\r\nOK\r\n'
    unread = await c.final("AT+CMGL")  # PDU mode default: 0, received unread
    assert unread.count(b"+CMGL: ") == 2
    assert await c.final("AT+CMGL=0") == b"\r\nOK\r\n"  # reading marked them read
    reply = await c.final("AT+CMGR=2")
    header, pdu = reply.split(b"\r\n")[1:3]
    assert header == b"+CMGR: 1,,%d" % (len(bytes.fromhex(pdu.decode())) - 8)
    decoded = decode_pdu(pdu.decode())
    assert isinstance(decoded, Deliver)
    assert decoded.user_data.text == "second"
    assert decoded.sender.number == HANDSET
    assert await c.final("AT+CMGD=1") == b"\r\nOK\r\n"
    assert await c.final("AT+CMGR=1") == b"\r\nOK\r\n"  # an empty slot reads as nothing
    assert await c.final("AT+CMGD=0,4") == b"\r\nOK\r\n"
    assert link_pool.modem(0).stores["SM"].used == 0
    assert await c.final("AT+CMGD=31") == b"\r\n+CMS ERROR: 321\r\n"


async def test_cpms_selects_storage(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    assert await c.final("AT+CPMS=?") == \
        b'\r\n+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")\r\n\r\nOK\r\n'
    assert await c.final('AT+CPMS="ME","ME","ME"') == \
        b"\r\n+CPMS: 0,100,0,100,0,100\r\n\r\nOK\r\n"
    await c.command("AT+CNMI=2,1,0,0,0")
    link_pool.net.send_from_handset(HANDSET, "modem0", "into ME")
    assert await c.expect(b'+CMTI: "ME",1\r\n')
    assert await c.final('AT+CPMS="XX"') == b"\r\n+CMS ERROR: 302\r\n"


async def test_cnmi_mt1_stores_and_indicates(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    await c.command("AT+CNMI=2,1,0,0,0")
    link_pool.net.send_from_handset(HANDSET, "modem0", "hi")
    assert await c.expect(b"\r\n") + await c.expect(b"\r\n") == b'\r\n+CMTI: "SM",1\r\n'


async def test_cnmi_mt2_routes_directly_as_cmt(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    await c.command("AT+CNMI=2,2,0,0,0")
    link_pool.net.send_from_handset(HANDSET, "modem0", "direct")
    header = await c.expect(b"\r\n", ) + await c.expect(b"\r\n")
    m = re.fullmatch(rb"\r\n\+CMT: ,(\d+)\r\n", header)
    assert m is not None
    pdu = (await c.expect(b"\r\n"))[:-2].decode()
    assert len(bytes.fromhex(pdu)) - 1 - bytes.fromhex(pdu)[0] == int(m.group(1))
    decoded = decode_pdu(pdu)
    assert isinstance(decoded, Deliver) and decoded.user_data.text == "direct"
    assert link_pool.modem(0).stores["SM"].used == 0


async def test_cnmi_mode0_buffers_until_mode2(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    await c.command("AT+CNMI=0,1,0,0,0")
    link_pool.net.send_from_handset(HANDSET, "modem0", "buffered")
    assert await c.final("AT") == b"\r\nOK\r\n"
    reply = await c.final("AT+CNMI=2,1,0,0,0")
    assert reply == b'\r\nOK\r\n'
    assert await c.expect(b'+CMTI: "SM",1\r\n')


async def test_status_report_as_cds_and_cdsi(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    await c.command("AT+CNMI=2,1,0,1,0")
    reply = await send_pdu(c, HANDSET, "report me", request_status_report=True)
    mr = int(re.search(rb"\+CMGS: (\d+)", reply).group(1))  # type: ignore[union-attr]
    header = await c.expect(b"\r\n") + await c.expect(b"\r\n")
    assert re.fullmatch(rb"\r\n\+CDS: \d+\r\n", header)
    report = decode_pdu((await c.expect(b"\r\n"))[:-2].decode())
    assert isinstance(report, StatusReport)
    assert (report.message_reference, report.recipient.number, report.status) == (mr, HANDSET, 0)

    await c.command("AT+CNMI=2,1,0,2,0")
    await send_pdu(c, HANDSET, "report me again", request_status_report=True)
    assert await c.expect(b'\r\n+CDSI: "SM",1\r\n')
    stored = await c.final("AT+CMGR=1")
    report = decode_pdu(stored.split(b"\r\n")[2].decode())
    assert isinstance(report, StatusReport) and report.message_reference == mr + 1


async def test_sim7600_rejects_ds1_and_stores_reports_in_sr(link_pool: SimPool,
                                                            tmp_path: Any) -> None:
    async with SimPool(1, tmp_path / "x", profile="sim7600", ptys=False, report_delay=0,
                       boot_time=0.05, vendor_urc_interval=0) as pool:
        _t, c = open_in_process(pool.modem(0), LinkClient)
        assert isinstance(c, LinkClient)
        await c.command("ATE0")
        await c.command("AT+CMEE=1")
        assert await c.final("AT+CNMI=2,1,0,1,0") == b"\r\n+CMS ERROR: 303\r\n"
        assert await c.final("AT+CNMI=2,1,0,2,0") == b"\r\nOK\r\n"
        assert await c.final("AT+CNMI=?") == b"\r\n+CNMI: (0,1,2),(0,1,2,3),(0,2),(0,2),(0,1)" \
            b"\r\n\r\nOK\r\n"
        await send_pdu(c, HANDSET, "qualcomm", request_status_report=True)
        assert await c.expect(b'\r\n+CDSI: "SR",0\r\n')  # Qualcomm parts count from 0
        await c.command('AT+CPMS="SR"')
        assert b"+CMGR: 0,," in await c.final("AT+CMGR=0")


async def test_csms1_cmt_needs_cnma_or_is_redelivered(link_pool: SimPool,
                                                      link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    modem = link_pool.modem(0)
    assert await c.final("AT+CSMS=1") == b"\r\n+CSMS: 1,1,1\r\n\r\nOK\r\n"
    await c.command("AT+CNMI=2,2,0,0,0")
    assert await c.final("AT+CNMA") == b"\r\n+CMS ERROR: 340\r\n"
    link_pool.net.send_from_handset(HANDSET, "modem0", "ack me")
    await c.expect(b"+CMT: ")
    await c.expect(b"\r\n")
    await c.expect(b"\r\n")
    assert await c.final("AT+CNMA") == b"\r\nOK\r\n"
    assert not modem.pending_acks
    # unacknowledged: the network delivers it again
    modem.dialect.__class__.cnma_timeout = 15.0
    link_pool.net.send_from_handset(HANDSET, "modem0", "ignored once")
    await c.expect(b"+CMT: ")
    ack = modem.pending_acks[0]
    assert ack.timer is not None
    ack.timer._run()  # the ack deadline passes
    modem._timers.discard(ack.timer)
    await c.expect(b"+CMT: ")
    assert modem.counters.received == 3


async def test_text_mode_send_and_read(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    await c.command("AT+CMGF=1")
    assert await c.command(f'AT+CMGS="{HANDSET}"', until=b"> ") == b"\r\n> "
    # a CR inside the text starts a new line and a fresh prompt
    assert await c.command(b"Line one\r", until=b"> ") == b"\r\n> "
    reply = await c.command(b"line two\x1a")
    assert re.fullmatch(rb"\r\n\+CMGS: \d+\r\n\r\nOK\r\n", reply)
    assert [m.text for m in link_pool.net.handsets[HANDSET].received] == ["Line one\nline two"]
    link_pool.net.send_from_handset(HANDSET, "modem0", "Grüße")
    reply = await c.final("AT+CMGR=1")
    assert re.fullmatch(
        rb'\r\n\+CMGR: "REC UNREAD","\+4915112345678",,"\d\d/\d\d/\d\d,\d\d:\d\d:\d\d[+-]\d\d"'
        rb"\r\nGr\xfc\xdfe\r\n\r\nOK\r\n", reply)
    await c.command('AT+CSCS="UCS2"')
    reply = await c.final('AT+CMGL="ALL"')
    assert "Grüße".encode("utf-16-be").hex().upper().encode() in reply


async def test_sim_to_sim_keeps_concatenation_and_user_data(link_pool: SimPool,
                                                            link_connect: Connect) -> None:
    sender = await link_connect(link_pool.modem(0))
    receiver = await link_connect(link_pool.modem(1))
    await receiver.command("AT+CNMI=2,1,0,0,0")
    text = "Ünïcødé across two parts 🙂 " * 4
    target = link_pool.modem(1).sim.msisdn
    await send_pdu(sender, target, text, concat_ref=77)
    await receiver.expect(b'+CMTI: "SM",2\r\n')
    listing = await receiver.final("AT+CMGL=4")
    pdus = [line for line in listing.split(b"\r\n") if re.fullmatch(rb"[0-9A-F]{20,}", line)]
    parts = [decode_pdu(p.decode()) for p in pdus]
    assert all(isinstance(p, Deliver) for p in parts)
    concat = [p.user_data.concat for p in parts]  # type: ignore[union-attr]
    assert [(x.ref, x.seq, x.total) for x in concat if x] == [(77, 1, 2), (77, 2, 2)]
    assert "".join(p.user_data.text or "" for p in parts) == text  # type: ignore[union-attr]
    assert parts[0].sender.number == link_pool.modem(0).sim.msisdn  # type: ignore[union-attr]


async def test_inbound_parts_out_of_order_and_missing(link_pool: SimPool,
                                                      link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    text = "x" * 400  # three GSM-7 parts
    result = link_pool.net.send_from_handset(HANDSET, "modem0", text, order="reverse",
                                             drop=[2], concat_ref=300, concat_ref_bits=16)
    assert result["parts"] == 3 and result["sent_parts"] == [3, 1]
    listing = await c.final("AT+CMGL=4")
    pdus = [line for line in listing.split(b"\r\n") if re.fullmatch(rb"[0-9A-F]{20,}", line)]
    concat = [decode_pdu(p.decode()).user_data.concat for p in pdus]  # type: ignore[union-attr]
    assert [(x.seq, x.ref, x.ref_bits) for x in concat if x] == [(3, 300, 16), (1, 300, 16)]


async def test_inbound_emoji_is_ucs2(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    link_pool.net.send_from_handset(HANDSET, "modem0", "Yes 👍")
    reply = await c.final("AT+CMGR=1")
    decoded = decode_pdu(reply.split(b"\r\n")[2].decode())
    assert isinstance(decoded, Deliver)
    assert decoded.user_data.encoding.value == "ucs2" and decoded.user_data.text == "Yes 👍"


async def test_dialect_identities_and_iccid_forms(tmp_path: Any) -> None:
    async with SimPool(5, tmp_path / "x", profile="mixed", ptys=False, boot_time=0.05,
                       vendor_urc_interval=0) as pool:
        expected = {
            "generic": ("smsgw-sim", "AT+CCID", "+CCID: {iccid}"),
            "sim800": ("SIMCOM_Ltd", "AT+CCID", "{iccid}"),
            "sim7600": ("SIMCOM INCORPORATED", "AT+CICCID", "+ICCID: {iccid}"),
            "ec25": ("Quectel", "AT+QCCID", "+QCCID: {iccid}"),
            "e3372": ("huawei", "AT^ICCID?", "^ICCID: {swapped}"),
        }
        for modem in pool.modems:
            _t, c = open_in_process(modem, LinkClient)
            assert isinstance(c, LinkClient)
            await c.command("ATE0")
            maker, ccid_cmd, ccid_line = expected[modem.dialect.name]
            assert await c.final("AT+CGMI") == f"\r\n{maker}\r\n\r\nOK\r\n".encode()
            iccid = modem.sim.iccid
            swapped = "".join(iccid[i + 1] + iccid[i] for i in range(0, 20, 2))
            line = ccid_line.format(iccid=iccid, swapped=swapped)
            assert await c.final(ccid_cmd) == f"\r\n{line}\r\n\r\nOK\r\n".encode()
            # the vendor-neutral EF_ICCID read works everywhere
            crsm = await c.final("AT+CRSM=176,12258,0,0,10")
            assert crsm == f'\r\n+CRSM: 144,0,"{swapped}"\r\n\r\nOK\r\n'.encode()
            if modem.dialect.name in ("sim7600", "ec25", "e3372"):
                assert await c.final("AT+CCID") == b"\r\nERROR\r\n"


async def test_registration_and_operator_reads(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    assert await c.final("AT+CREG?") == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    await c.command("AT+CREG=2")
    assert await c.final("AT+CREG?") == b'\r\n+CREG: 2,1,"1A2B","3C4D"\r\n\r\nOK\r\n'
    assert await c.final("AT+COPS?") == b'\r\n+COPS: 0,0,"SimTel",0\r\n\r\nOK\r\n'
    await c.command("AT+COPS=3,2")
    assert await c.final("AT+COPS?") == b'\r\n+COPS: 0,2,"26201",0\r\n\r\nOK\r\n'
    assert await c.final("AT+CEREG?") == b"\r\nERROR\r\n"  # a 2G modem has no EPS
    assert re.fullmatch(rb"\r\n\+CSQ: \d+,0\r\n\r\nOK\r\n", await c.final("AT+CSQ"))


async def test_cfun_radio_off_and_reset(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    await c.command("AT+CREG=1")
    assert await c.final("AT+CFUN=0") == b"\r\nOK\r\n"
    assert await c.expect(b"+CREG: 0\r\n")
    assert link_pool.modem(0).state.value == "radio_off"
    await c.command("AT+CFUN=1")
    assert await c.expect(b"+CREG: 1\r\n")
    await c.command("AT+CFUN=1,1")
    assert await c.expect(b"\r\nRDY\r\n")  # a reset: boots again, echo back on
    await c.expect(b"+CPIN: READY\r\n")
    assert await c.command("AT") == b"AT\r\r\nOK\r\n"


async def test_pin_three_wrong_tries_block_with_puk(link_pool: SimPool,
                                                    link_connect: Connect) -> None:
    modem = link_pool.modem(0)
    modem.sim.pin = "4321"
    modem.sim.locked = True
    c = await link_connect(modem)
    for _ in range(3):
        assert await c.final('AT+CPIN="1111"') == b"\r\n+CME ERROR: 16\r\n"
    assert await c.final("AT+CPIN?") == b"\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n"
    assert await c.final('AT+CPIN="12345678","9999"') == b"\r\nOK\r\n"
    assert await c.expect(b"+CPIN: READY\r\n")
    assert modem.sim.pin == "9999" and not modem.sim.locked


async def test_text_mode_body_with_ok_inside_is_not_misread(link_pool: SimPool,
                                                            link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    await c.command("AT+CMGF=1")
    link_pool.net.send_from_handset(HANDSET, "modem0", "OK")
    reply = await c.command("AT+CMGR=1", until=b"\r\nOK\r\n\r\nOK\r\n")
    # row 24: a body of "OK" looks like a final result code, which is why drivers use PDU mode
    assert re.fullmatch(rb'\r\n\+CMGR: "REC UNREAD","\+\d+",,"[^"]+"\r\nOK\r\n\r\nOK\r\n', reply)


async def test_submit_pdu_with_its_own_smsc(link_pool: SimPool, link_connect: Connect) -> None:
    c = await link_connect(link_pool.modem(0))
    link_pool.modem(0).sim.smsc = ""
    part = encode_submit(HANDSET, "no smsc")[0]
    await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
    assert await c.command(part.hex.encode() + b"\x1a", until=b"+CMS ERROR: 330\r\n")
    with_smsc = encode_submit(HANDSET, "own smsc", smsc="+491710760000")[0]
    reply = await send_pdu(c, HANDSET, "own smsc", smsc="+491710760000")
    assert b"+CMGS: " in reply and with_smsc.hex.startswith("07")
    assert await c.final('AT+CSCA="+491710760000",145') == b"\r\nOK\r\n"
    assert await c.final("AT+CSCA?") == b'\r\n+CSCA: "+491710760000",145\r\n\r\nOK\r\n'
    decoded = decode_pdu(with_smsc.hex)
    assert isinstance(decoded, Submit)
