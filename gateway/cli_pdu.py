"""`smsgw pdu decode|encode|count`: the PDU codec at the shell, one JSON object per line.

Meant for pasting what a modem printed, for scripting, and for checking an encoding before a
message is queued. Errors are data too: a malformed input prints `{"error": ...}` and the exit
status says whether any input failed, so a batch keeps going past a bad line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from drivers.pdu import (
    PduError,
    count_text,
    decode_pdu,
    encode_submit,
    to_json_dict,
)

EXIT_OK = 0
EXIT_INPUT_ERROR = 1


def register(subparsers: Any) -> None:
    """Add `pdu` and its sub-commands to the `smsgw` parser."""
    pdu = subparsers.add_parser(
        "pdu",
        help="decode, encode and count SMS PDUs",
        description="Decode, encode and count SMS PDUs (3GPP TS 23.040). Output is JSON lines.",
    )
    pdu.set_defaults(func=_usage(pdu))
    commands = pdu.add_subparsers(dest="pdu_command", metavar="ACTION")

    decode = commands.add_parser(
        "decode",
        help="decode PDUs as a modem prints them",
        description=(
            "Decode PDUs as AT+CMGR/AT+CMGL/+CMT print them (SMSC prefix included). With no HEX "
            "arguments, read one PDU per line from standard input. Prints one JSON object per "
            'input; a malformed PDU prints {"error": ...} and makes the exit status 1.'
        ),
    )
    decode.add_argument("hex", nargs="*", metavar="HEX", help="PDU in hex")
    decode.add_argument(
        "--no-smsc", action="store_true", help="inputs are bare TPDUs without an SMSC prefix"
    )
    decode.set_defaults(func=decode_command)

    encode = commands.add_parser(
        "encode",
        help="encode an SMS-SUBMIT for AT+CMGS",
        description=(
            "Encode a text as SMS-SUBMIT PDUs. Each PDU is exactly what follows "
            "AT+CMGS=<tpdu_length> (SMSC prefix 00 unless --smsc is given). With --jsonl, read "
            'requests {"to", "text", "reference", "status_report", "validity_minutes"} one per '
            "line from standard input."
        ),
    )
    encode.add_argument("--to", metavar="NUMBER", help="destination; +digits is international")
    encode.add_argument("--text", metavar="TEXT", help="message text")
    encode.add_argument(
        "--reference",
        type=int,
        default=0,
        metavar="N",
        help="TP-MR (0-255), also the concatenation reference of a long message",
    )
    encode.add_argument(
        "--status-report", action="store_true", help="request a status report (TP-SRR)"
    )
    encode.add_argument(
        "--validity-minutes", type=int, metavar="M", help="relative validity period (TP-VP)"
    )
    encode.add_argument("--smsc", metavar="NUMBER", help="SMSC address (default: the modem's)")
    encode.add_argument(
        "--jsonl", action="store_true", help="read JSON requests from standard input"
    )
    encode.set_defaults(func=encode_command)

    count = commands.add_parser(
        "count",
        help="encoding and segment count of a text",
        description="Print the encoding and the number of SMS parts a text needs.",
    )
    count.add_argument("text", metavar="TEXT")
    count.set_defaults(func=count_command)


def _usage(parser: argparse.ArgumentParser) -> Any:
    def show(_: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


def _emit(obj: dict[str, Any], out: TextIO) -> None:
    try:
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    except UnicodeEncodeError:  # a terminal that cannot show the text: escape it instead
        out.write(json.dumps(obj) + "\n")
    out.flush()


def _lines(stream: TextIO) -> Iterator[str]:
    for line in stream:
        stripped = line.strip()
        if stripped:
            yield stripped


def decode_one(text: str, *, has_smsc: bool = True) -> dict[str, Any]:
    try:
        return to_json_dict(decode_pdu(text, has_smsc=has_smsc))
    except PduError as exc:
        return {"error": str(exc), "reason": str(exc.reason)}


def decode_command(args: argparse.Namespace) -> int:
    inputs: Iterable[str] = args.hex or _lines(sys.stdin)
    status = EXIT_OK
    for text in inputs:
        result = decode_one(text, has_smsc=not args.no_smsc)
        if "error" in result:
            status = EXIT_INPUT_ERROR
        _emit(result, sys.stdout)
    return status


def encode_one(
    to: object,
    text: object,
    *,
    reference: object = 0,
    status_report: object = False,
    validity_minutes: object = None,
    smsc: object = None,
) -> dict[str, Any]:
    """One encode request -> the CLI's result object (or `{"error": ...}`)."""
    if not isinstance(to, str) or not to:
        return {"error": "'to' must be a non-empty string"}
    if not isinstance(text, str):
        return {"error": "'text' must be a string"}
    if reference is None:
        reference = 0
    if not isinstance(reference, int) or isinstance(reference, bool):
        return {"error": "'reference' must be an integer"}
    if not isinstance(status_report, bool):
        return {"error": "'status_report' must be true or false"}
    if validity_minutes is not None and (
        not isinstance(validity_minutes, int) or isinstance(validity_minutes, bool)
    ):
        return {"error": "'validity_minutes' must be an integer"}
    if smsc is not None and not isinstance(smsc, str):
        return {"error": "'smsc' must be a string"}
    try:
        parts = encode_submit(
            to,
            text,
            reference=reference,
            request_status_report=status_report,
            validity_minutes=validity_minutes,
            smsc=smsc,
        )
    except PduError as exc:
        return {"error": str(exc), "reason": str(exc.reason)}
    encoding = count_text(text).encoding
    return {
        "encoding": str(encoding),
        "segments": len(parts),
        "pdus": [part.hex for part in parts],
        "tpdu_lengths": [part.tpdu_length for part in parts],
    }


_REQUEST_KEYS = frozenset({"to", "text", "reference", "status_report", "validity_minutes", "smsc"})


def encode_command(args: argparse.Namespace) -> int:
    if not args.jsonl:
        if args.to is None or args.text is None:
            sys.stderr.write("smsgw pdu encode: --to and --text are required (or use --jsonl)\n")
            return 2
        result = encode_one(
            args.to,
            args.text,
            reference=args.reference,
            status_report=args.status_report,
            validity_minutes=args.validity_minutes,
            smsc=args.smsc,
        )
        _emit(result, sys.stdout)
        return EXIT_INPUT_ERROR if "error" in result else EXIT_OK
    return _encode_jsonl(args)


def _encode_jsonl(args: argparse.Namespace) -> int:
    status = EXIT_OK
    result: dict[str, Any]
    for line in _lines(sys.stdin):
        try:
            request = json.loads(line)
        except json.JSONDecodeError as exc:
            result = {"error": f"not JSON: {exc.msg}"}
        else:
            if not isinstance(request, dict):
                result = {"error": "a request is a JSON object"}
            elif unknown := sorted(set(request) - _REQUEST_KEYS):
                result = {"error": f"unknown field(s): {', '.join(unknown)}"}
            else:
                result = encode_one(
                    request.get("to"),
                    request.get("text"),
                    reference=request.get("reference", args.reference),
                    status_report=request.get("status_report", args.status_report),
                    validity_minutes=request.get("validity_minutes", args.validity_minutes),
                    smsc=request.get("smsc", args.smsc),
                )
        if "error" in result:
            status = EXIT_INPUT_ERROR
        _emit(result, sys.stdout)
    return status


def count_command(args: argparse.Namespace) -> int:
    try:
        counted = count_text(args.text)
    except PduError as exc:
        _emit({"error": str(exc), "reason": str(exc.reason)}, sys.stdout)
        return EXIT_INPUT_ERROR
    _emit(
        {
            "encoding": str(counted.encoding),
            "segments": counted.segments,
            "units": counted.units,
            "per_segment": counted.per_segment,
        },
        sys.stdout,
    )
    return EXIT_OK
