"""`smsgw pdu decode|encode|count`: the real console script, plus in-process edge cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drivers.pdu import Submit, decode_pdu, decode_submit
from gateway.cli import main

SMSGW = Path(sys.executable).with_name("smsgw")
HELLO_DELIVER = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"
STATUS_REPORT = "0791538375000075061805810531F1019082416500400190824165004000"


def run(*args: str, stdin: str = "") -> tuple[int, list[dict[str, Any]], str]:
    assert SMSGW.exists(), "the smsgw console script is installed in the venv"
    done = subprocess.run(
        [str(SMSGW), "pdu", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, lines, done.stderr


def test_decode_arguments_with_one_bad_input() -> None:
    code, lines, _ = run("decode", HELLO_DELIVER, "0BF0BB", STATUS_REPORT)
    assert code == 1
    assert len(lines) == 3
    assert lines[0]["kind"] == "deliver"
    assert lines[0]["smsc"] == "+27381000015"
    assert lines[0]["sender"] == "27838890001"
    assert lines[0]["sender_type_of_address"] == "C8"
    assert lines[0]["timestamp"] == "1999-03-29T15:16:59+02:00"
    assert lines[0]["text"] == "hellohello"
    assert set(lines[1]) >= {"error"}
    assert lines[2]["kind"] == "status-report"
    assert lines[2]["status"] == 0
    assert lines[2]["discharge_time"] == "2010-09-28T14:56:00+01:00"


def test_decode_reads_stdin_and_skips_blank_lines() -> None:
    bare_tpdu = HELLO_DELIVER[16:]
    code, lines, _ = run("decode", "--no-smsc", stdin=f"\n{bare_tpdu}\r\n\n{bare_tpdu}\n")
    assert code == 0
    assert [line["text"] for line in lines] == ["hellohello", "hellohello"]
    assert all(line["smsc"] is None for line in lines)


def test_encode_prints_pdus_for_cmgs() -> None:
    code, lines, _ = run(
        "encode",
        "--to",
        "+46708251358",
        "--text",
        "hellohello",
        "--validity-minutes",
        "5760",
    )
    assert code == 0
    assert lines == [
        {
            "encoding": "gsm7",
            "segments": 1,
            "pdus": ["0011000B916407281553F80000AA0AE8329BFD4697D9EC37"],
            "tpdu_lengths": [23],
        }
    ]


def test_encode_long_message_with_every_option() -> None:
    text = "Zürich 😀 " * 20
    code, lines, _ = run(
        "encode",
        "--to",
        "0708251358",
        "--text",
        text,
        "--reference",
        "77",
        "--status-report",
        "--smsc",
        "+447802000332",
    )
    assert code == 0
    (result,) = lines
    assert result["encoding"] == "ucs2" and result["segments"] == len(result["pdus"]) == 3
    decoded = [decode_submit(p) for p in result["pdus"]]
    assert "".join(d.user_data.text or "" for d in decoded) == text
    for pdu, length, hex_pdu in zip(decoded, result["tpdu_lengths"], result["pdus"], strict=True):
        assert isinstance(pdu, Submit)
        assert pdu.message_reference == 77 and pdu.request_status_report
        assert pdu.destination.toa == 0x81
        assert pdu.user_data.concat is not None and pdu.user_data.concat.ref == 77
        assert length == len(hex_pdu) // 2 - 8  # SMSC prefix is 8 octets


def test_encode_jsonl_reports_errors_per_line() -> None:
    stdin = "\n".join(
        [
            json.dumps({"to": "+15550001", "text": "one", "reference": 1}),
            "not json",
            json.dumps(
                {"to": "+15550002", "text": "two", "status_report": True, "validity_minutes": 60}
            ),
            json.dumps({"to": "", "text": "x"}),
        ]
    )
    code, lines, _ = run("encode", "--jsonl", stdin=stdin)
    assert code == 1
    assert len(lines) == 4
    assert lines[0]["segments"] == 1 and "error" in lines[1] and "error" in lines[3]
    second = decode_pdu(lines[2]["pdus"][0])
    assert isinstance(second, Submit)
    assert second.request_status_report
    assert second.validity is not None and second.validity.minutes == 60


def test_count() -> None:
    code, lines, _ = run("count", "a" * 161)
    assert code == 0
    assert lines == [{"encoding": "gsm7", "segments": 2, "units": 161, "per_segment": 153}]


# --- in process ----------------------------------------------------------------------------


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["pdu", *args])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_decode_error_names_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _main(capsys, "decode", "ZZ", "00FF")
    assert code == 1
    assert [line["reason"] for line in lines] == ["bad-hex", "reserved-message-type"]


def test_decode_json_field_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, (line,) = _main(capsys, "decode", "0011000B916407281553F80000AA0AE8329BFD4697D9EC37")
    assert code == 0
    keys = (
        "kind smsc destination destination_type_of_address message_reference "
        "request_status_report reject_duplicates validity pid dcs encoding message_class "
        "udh_hex concat ports text udl"
    )
    for key in keys.split():
        assert key in line
    assert line["validity"] == {"format": "relative", "tp_vp": 170, "minutes": 5760}


def test_eight_bit_text_is_hex(capsys: pytest.CaptureFixture[str]) -> None:
    pdu = "07914400000000F001000B811000000000F000040B48692074686572652E2E2E"
    _, (line,) = _main(capsys, "decode", pdu)
    assert line["encoding"] == "8bit" and line["text"] == "48692074686572652E2E2E"


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "+1", "--text", "x", "--reference", "300"],
        ["--to", "+1", "--text", "x", "--validity-minutes", "0"],
        ["--to", "+1", "--text", "x", "--smsc", "Operator"],
        ["--to", "+1", "--text", "x" * 40000],
    ],
)
def test_encode_refusals_are_json_errors(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, (line,) = _main(capsys, "encode", *args)
    assert code == 1
    assert "error" in line


def test_encode_without_to_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pdu", "encode", "--text", "x"]) == 2
    assert "--to" in capsys.readouterr().err


def test_jsonl_rejects_unknown_fields_and_wrong_types(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    requests = [
        {"to": "+1", "text": "x", "colour": "red"},
        {"to": "+1", "text": 5},
        {"to": "+1", "text": "x", "reference": "7"},
        {"to": "+1", "text": "x", "status_report": "yes"},
        [1, 2],
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(json.dumps(r) for r in requests)))
    code, lines = _main(capsys, "encode", "--jsonl")
    assert code == 1
    assert len(lines) == len(requests) and all("error" in line for line in lines)


def test_text_with_undecodable_bytes_is_an_error_not_a_traceback() -> None:
    # argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape).
    done = subprocess.run(
        [str(SMSGW), "pdu", "count", b"a\xff".decode("utf-8", "surrogateescape")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "error" in json.loads(done.stdout)
    assert "Traceback" not in done.stderr
